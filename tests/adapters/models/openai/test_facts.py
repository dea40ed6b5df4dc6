"""The table of known models' windows."""

from __future__ import annotations

import pytest

from adapters.models.openai.facts import context_window, resolve_window, sees_pictures


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-3.5-turbo", 16_385),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-32k", 32_768),
        ("gpt-4-turbo-2024-04-09", 128_000),
        ("gpt-4o-mini", 128_000),
        ("openai/gpt-4o", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("o1-mini", 128_000),
        ("o3-mini", 200_000),
        ("gpt-5", 400_000),
        ("gpt-5-chat-latest", 128_000),
        ("gpt-6-luna", 128_000),
        ("llama3.2", None),
        ("qwen2.5:7b", None),
    ],
)
def test_known_windows(model: str, window: int | None) -> None:
    assert context_window(model) == window


def test_the_setting_wins_and_unknown_models_get_4096() -> None:
    assert resolve_window("llama3.2", None) == 4_096
    assert resolve_window("llama3.2", 32_768) == 32_768
    assert resolve_window("gpt-4o", 16_000) == 16_000


LOCAL = "http://127.0.0.1:8080/v1"


def test_a_name_says_nothing_of_another_servers_window() -> None:
    # The README's llama.cpp recipe left the name at gpt-6-luna: 128 000 against 4 096.
    assert resolve_window("gpt-6-luna", None, LOCAL) == 4_096
    assert resolve_window("gpt-6-luna", None, "https://api.openai.com/v1") == 128_000
    assert resolve_window("gpt-4o", None, "https://me.openai.azure.com/openai") == 128_000
    assert resolve_window("gpt-6-luna", 32_768, LOCAL) == 32_768


def test_what_the_server_reports_comes_after_the_setting() -> None:
    assert resolve_window("gpt-6-luna", None, LOCAL, reported=8_192) == 8_192
    assert resolve_window("llama", 2_048, LOCAL, reported=4_096) == 2_048


@pytest.mark.parametrize(
    ("model", "sees"),
    [
        ("gpt-4o-mini", True),
        ("openai/gpt-4.1", True),
        ("gpt-5-chat-latest", True),
        ("gpt-6-luna", True),  # a newer OpenAI name: its models see
        ("o3", True),
        ("o4-mini", True),
        ("o1-mini", False),
        ("o3-mini", False),
        ("gpt-oss-20b", False),
        ("gpt-3.5-turbo", False),
        ("gpt-4", False),
        ("llava:7b", True),
        ("gemma3:4b", True),
        ("qwen2.5-vl:7b", True),
        ("Qwen2.5-VL-7B-Instruct", True),
        ("llama3.2-vision", True),
        ("llama3.2", False),
        ("qwen2.5:7b", False),
        ("SmolLM2-135M-Instruct", False),
    ],
)
def test_which_models_see_pictures(model: str, sees: bool) -> None:
    assert sees_pictures(model) is sees
