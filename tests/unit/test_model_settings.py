"""The model's settings: counting, its window, its timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import ConfigError, settings_from


def test_model_defaults(tmp_path: Path) -> None:
    settings = settings_from({"OPENAI_API_KEY": "sk-x"}, tmp_path)

    assert settings.token_counter == "tiktoken"
    assert settings.context_token_limit == 8_000
    assert settings.model_context_window is None
    assert settings.openai_first_token_timeout == 120.0
    assert settings.openai_stall_timeout == 30.0


def test_the_offline_model_counts_with_the_heuristic(tmp_path: Path) -> None:
    assert settings_from({}, tmp_path).token_counter == "heuristic"
    assert settings_from({"TOKEN_COUNTER": "tiktoken"}, tmp_path).token_counter == "tiktoken"


def test_model_settings_are_read(tmp_path: Path) -> None:
    settings = settings_from(
        {
            "MODEL_CONTEXT_WINDOW": "8_192",
            "OPENAI_FIRST_TOKEN_TIMEOUT": "300",
            "TOKEN_COUNTER": "Heuristic",
        },
        tmp_path,
    )

    assert settings.model_context_window == 8_192
    assert settings.openai_first_token_timeout == 300.0
    assert settings.token_counter == "heuristic"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MODEL_CONTEXT_WINDOW", "big", "MODEL_CONTEXT_WINDOW must be a whole number"),
        ("MODEL_CONTEXT_WINDOW", "100", "MODEL_CONTEXT_WINDOW must be between 256 and"),
        ("OPENAI_FIRST_TOKEN_TIMEOUT", "0", "OPENAI_FIRST_TOKEN_TIMEOUT must be greater than"),
        ("OPENAI_FIRST_TOKEN_TIMEOUT", "soon", "OPENAI_FIRST_TOKEN_TIMEOUT must be a number"),
        ("TOKEN_COUNTER", "exact", "TOKEN_COUNTER must be tiktoken or heuristic"),
    ],
)
def test_malformed_model_setting_is_named(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from({name: value})


@pytest.mark.parametrize(
    ("env", "window"),
    [
        ({}, 128_000),  # gpt-6-luna, newer than the table: the floor of OpenAI's windows
        ({"OPENAI_MODEL": "gpt-4o-mini"}, 128_000),
        ({"OPENAI_MODEL": "gpt-4"}, 8_192),
        ({"OPENAI_MODEL": "SmolLM2-135M-Instruct"}, 4_096),
        ({"OPENAI_MODEL": "SmolLM2-135M-Instruct", "MODEL_CONTEXT_WINDOW": "8192"}, 8_192),
        ({"OPENAI_MODEL": "gpt-4o", "MODEL_CONTEXT_WINDOW": "32000"}, 32_000),
        # Another server: the name says nothing (its report is learned at start-up).
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}, 4_096),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", "MODEL_CONTEXT_WINDOW": "8192"}, 8_192),
    ],
)
def test_the_models_window(env: dict[str, str], window: int, tmp_path: Path) -> None:
    assert settings_from(env, tmp_path).model_window() == window
