"""Settings from the environment: defaults, clear errors, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.models.openai.chat import REASONING_EFFORTS
from entrypoints import settings as settings_module
from entrypoints.settings import ConfigError, load_environment, settings_from


def test_defaults_need_nothing(tmp_path: Path) -> None:
    settings = settings_from({}, tmp_path)
    assert settings.data_file == tmp_path / "data.json"
    assert settings.threads_file == tmp_path / "data.threads.db"
    assert settings.starting_balance == 30_000
    assert settings.reply_token_limit == 3_000
    assert settings.openai_api_key is None
    assert settings.token_footer is True


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ADMIN_CHAT_ID", "me", "ADMIN_CHAT_ID must be a whole number"),
        ("REPLY_TOKEN_LIMIT", "0", "REPLY_TOKEN_LIMIT must be greater than zero"),
        ("TOKEN_FOOTER", "maybe", "TOKEN_FOOTER must be true or false"),
        ("DEFAULT_LANGUAGE", "de", "DEFAULT_LANGUAGE must be one of en, ru"),
        ("STARTING_BALANCE", "-1", "STARTING_BALANCE cannot be negative"),
        ("MIN_REPLY_TOKENS", "5000", "cannot exceed REPLY_TOKEN_LIMIT"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be"),
        ("OPENAI_REASONING_EFFORT", "lots", "OPENAI_REASONING_EFFORT must be default, none"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from({name: value})


@pytest.mark.parametrize(
    ("env", "model", "effort"),
    [
        ({}, "gpt-6-luna", "none"),  # the default model, asked not to reason
        ({"OPENAI_REASONING_EFFORT": "LOW"}, "gpt-6-luna", "low"),
        ({"OPENAI_REASONING_EFFORT": "default"}, "gpt-6-luna", None),
        ({"OPENAI_MODEL": "llama3.2"}, "llama3.2", None),  # may not know the parameter at all
        ({"OPENAI_MODEL": "gpt-6-sol", "OPENAI_REASONING_EFFORT": "high"}, "gpt-6-sol", "high"),
    ],
)
def test_reasoning_effort_defaults_to_none_only_for_the_default_model(
    env: dict[str, str], model: str, effort: str | None
) -> None:
    settings = settings_from(env)
    assert (settings.openai_model, settings.openai_reasoning_effort) == (model, effort)


def test_settings_know_the_reasoning_efforts_the_adapter_knows() -> None:
    assert settings_module.REASONING_EFFORTS == REASONING_EFFORTS


def test_secrets_never_show_in_repr() -> None:
    settings = settings_from({"OPENAI_API_KEY": "sk-very-secret", "TELEGRAM_API_KEY": "123:ABC"})
    assert "sk-very-secret" not in repr(settings)
    assert "123:ABC" not in f"{settings.telegram_api_key}"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.reveal() == "sk-very-secret"


def test_environment_wins_over_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("STARTING_BALANCE=100\nREPLY_TOKEN_LIMIT=200\n")
    monkeypatch.setenv("STARTING_BALANCE", "500")
    values = load_environment(env_file)
    assert values["STARTING_BALANCE"] == "500"
    assert values["REPLY_TOKEN_LIMIT"] == "200"


def test_the_older_bots_admin_id_is_read_and_said_so() -> None:
    settings = settings_from({"ADMIN_ID": "4242"})
    assert settings.admin_chat_id == 4242
    assert any("ADMIN_ID" in note for note in settings.notes)
    both = settings_from({"ADMIN_ID": "4242", "ADMIN_CHAT_ID": "7"})
    assert both.admin_chat_id == 7


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("OPENAI_TIMEOUT", "nan", "OPENAI_TIMEOUT must be a finite number"),
        ("OPENAI_STALL_TIMEOUT", "nan", "OPENAI_STALL_TIMEOUT must be a finite number"),
        ("OPENAI_TIMEOUT", "-inf", "OPENAI_TIMEOUT must be a finite number"),
        ("OPENAI_TIMEOUT", "1e9", "OPENAI_TIMEOUT must be between 0 and 3600"),
        ("OFFLINE_MODEL_DELAY", "inf", "OFFLINE_MODEL_DELAY must be a finite number"),
        ("OFFLINE_MODEL_DELAY", "60", "OFFLINE_MODEL_DELAY must be between 0 and 10"),
        ("REPLY_TOKEN_LIMIT", str(10**9), "REPLY_TOKEN_LIMIT must be at most 1,000,000"),
        ("CONTEXT_TOKEN_LIMIT", "1" + "0" * 5000, "CONTEXT_TOKEN_LIMIT must be a whole number"),
        ("STARTING_BALANCE", str(10**15), "STARTING_BALANCE must be at most"),
        ("OPENAI_MAX_RETRIES", "1000", "OPENAI_MAX_RETRIES must be between 0 and 10"),
        ("THREAD_RETENTION", str(10**12), "THREAD_RETENTION must be at most"),
    ],
)
def test_settings_that_would_break_the_bot_are_refused(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from({name: value})


def test_the_context_limit_must_leave_room_after_the_system_prompt() -> None:
    with pytest.raises(ConfigError, match="CONTEXT_TOKEN_LIMIT \\(50\\) leaves no room"):
        settings_from({"CONTEXT_TOKEN_LIMIT": "50"})
    long_prompt = {"DEFAULT_PROMPT": "Be kind. " * 1_000, "CONTEXT_TOKEN_LIMIT": "3000"}
    with pytest.raises(ConfigError, match="alone costs 3,6"):
        settings_from(long_prompt)
    assert (
        settings_from({**long_prompt, "CONTEXT_TOKEN_LIMIT": "4000"}).context_token_limit == 4_000
    )
    assert settings_from({"CONTEXT_TOKEN_LIMIT": "200"}).context_token_limit == 200


def test_access_and_allowance_settings_reach_the_core() -> None:
    config = settings_from(
        {
            "ALLOWED_USERS": " 123, @Ann  @bob,123",
            "ALLOWED_CHATS": "-100500",
            "ALLOWANCE": "20 000",
            "ALLOWANCE_PERIOD": "Week",
            "ALLOWANCE_TZ": "Europe/Berlin",
        }
    ).bot_config("1")
    assert config.allowed_users == ("123", "@ann", "@bob")
    assert config.allowed_chats == ("-100500",)
    assert (config.allowance, config.allowance_period, config.allowance_tz) == (
        20_000,
        "week",
        "Europe/Berlin",
    )
    default = settings_from({}).bot_config("1")
    assert (default.allowed_users, default.allowed_chats, default.allowance) == ((), (), 0)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ALLOWANCE_TZ", "Mars/Olympus", "IANA time zone"),
        ("ALLOWANCE_TZ", "../../etc/passwd", "IANA time zone"),
        ("ALLOWANCE_PERIOD", "fortnight", "day, week or month"),
        ("ALLOWANCE", "-5", "between 0"),
        ("ALLOWED_USERS", "@", "ids or @usernames"),
        ("ALLOWED_CHATS", "a;b", "ids or @usernames"),
    ],
)
def test_malformed_access_settings_are_named(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must.*{words}"):
        settings_from({name: value})
