"""MODELS and the media settings: parsed, completed from the OPENAI_* ones, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import BotConfig
from core.models import ModelOption
from entrypoints.settings import ConfigError, load_environment, settings_from

KEY = {"OPENAI_API_KEY": "sk-main"}


def test_no_models_listed_offers_openai_model_with_vision_guessed(tmp_path: Path) -> None:
    settings = settings_from({**KEY, "OPENAI_MODEL": "gpt-4o-mini"}, tmp_path)

    (entry,) = settings.models
    assert entry.option == ModelOption("gpt-4o-mini", price=1.0, vision=True)
    assert entry.api_key is not None
    assert entry.api_key.reveal() == "sk-main"
    assert entry.base_url is None
    assert entry.reasoning_effort is None
    assert entry.context_window() == 128_000
    blind = settings_from({**KEY, "OPENAI_MODEL": "llama3.2"}, tmp_path).models[0]
    assert blind.option.vision is False
    # On another server a name is no proof: a llava may run without its projector.
    local = {**KEY, "OPENAI_MODEL": "llava", "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}
    assert settings_from(local, tmp_path).models[0].option.vision is False


def test_without_a_key_the_offline_model_is_offered_and_sees(tmp_path: Path) -> None:
    (entry,) = settings_from({}, tmp_path).models

    assert entry.offline
    assert entry.option.vision
    assert entry.option.name == "offline"
    config = settings_from({}, tmp_path).bot_config("1")
    assert config.models == (entry.option,)  # nothing to fit: no window
    assert (config.context_budget, config.reply_cap) == (8_000, 3_000)


def test_a_list_of_models_with_their_own_endpoints(tmp_path: Path) -> None:
    models = (
        'gpt-6-luna; gpt-5 price=10 vision description="the big one"\n'
        "  llama3.2 price=0 window=4096 base_url=http://127.0.0.1:11434/v1 api_key=$LOCAL_KEY\n"
        "qwen2.5-vl:7b effort=low;"
    )
    settings = settings_from(
        {**KEY, "MODELS": models, "LOCAL_KEY": "ollama", "OPENAI_BASE_URL": "https://x.test/v1"},
        tmp_path,
    )

    luna, big, local, qwen = settings.models
    assert [e.option.name for e in settings.models] == [
        "gpt-6-luna",
        "gpt-5",
        "llama3.2",
        "qwen2.5-vl:7b",
    ]
    assert luna.reasoning_effort == "none"  # the bot's default model, as before
    assert big.option == ModelOption("gpt-5", price=10.0, vision=True, description="the big one")
    assert big.base_url == "https://x.test/v1"
    assert big.api_key is not None
    assert big.api_key.reveal() == "sk-main"
    assert local.option.price == 0.0
    assert local.option.vision is False
    assert local.base_url == "http://127.0.0.1:11434/v1"
    assert local.api_key is not None
    assert local.api_key.reveal() == "ollama"
    assert qwen.option.vision is False  # a vision model's name, but the entry does not say so
    assert luna.option.vision is False
    assert qwen.reasoning_effort == "low"
    assert "ollama" not in repr(settings)
    assert "sk-main" not in repr(settings)


def test_each_models_budgets_fit_its_window(tmp_path: Path) -> None:
    settings = settings_from(
        {**KEY, "MODELS": "small window=4096; gpt-4o; gpt-4", "REPLY_TOKEN_LIMIT": "3000"},
        tmp_path,
    )
    config = settings.bot_config("1")

    small, big, old = config.models
    assert (small.context_budget, small.reply_cap) == (3_072, 1_024)
    assert (big.context_budget, big.reply_cap) == (8_000, 3_000)
    assert (old.context_budget, old.reply_cap) == (6_144, 2_048)  # gpt-4: 8 192 tokens
    # The bot-wide limits are the default model's; MIN_REPLY_TOKENS fits the smallest cap.
    assert (config.context_budget, config.reply_cap) == (3_072, 1_024)
    assert config.min_reply_tokens == 50


def test_a_model_without_any_key_is_answered_offline(tmp_path: Path) -> None:
    settings = settings_from({"MODELS": "sees vision; blind"}, tmp_path)

    sees, blind = settings.models
    assert sees.offline
    assert blind.offline
    assert (sees.option.vision, blind.option.vision) == (True, False)
    assert settings.token_counter == "heuristic"


@pytest.mark.parametrize(
    ("models", "words"),
    [
        ("a price=-1", r"MODELS entry 1 \(a\): price must be between 0 and 1000"),
        ("a; b price=nan", r"MODELS entry 2 \(b\): price must be a finite number"),
        ("a price=inf", "price must be a finite number"),
        ("a price=cheap", r"MODELS entry 1 \(a\): price must be a number"),
        ("a; A", r"MODELS entry 2 \(A\) repeats the name of entry 1"),
        ("a colour=red", r"MODELS entry 1 \(a\): unknown word 'colour'"),
        ("a window=100", "window must be between 256 and"),
        ("a window=big", "window must be a whole number"),
        ("a base_url=127.0.0.1", "base_url must be an http:// or https:// address"),
        ("a api_key=$NOT_SET", r"api_key names \$NOT_SET, which is not set"),
        ("a price", "price needs a value"),
        ("a price=1 price=2", "price is given twice"),
        ("a vision=maybe", "vision must be yes or no"),
        ("a effort=lots", "effort must be default, none"),
        ('a description="open', "quote"),
        ("price=1 a", "MODELS entry 1 must start with the model's name"),
        (" ; \n ;", "MODELS names no model"),
    ],
)
def test_a_bad_entry_is_named(models: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from({**KEY, "MODELS": models})


def test_an_error_never_shows_a_key_written_into_the_list() -> None:
    with pytest.raises(ConfigError) as error:
        settings_from({"MODELS": "a api_key=sk-secret-123 price=-5"})

    assert "sk-secret-123" not in str(error.value)


def test_media_settings_default_to_the_cores_and_reach_it(tmp_path: Path) -> None:
    core = BotConfig(admin_id="")
    settings = settings_from(KEY, tmp_path)

    assert settings.transcription_model == "gpt-transcribe"
    assert settings.image_model == "gpt-image-2"
    assert settings.image_size == "1024x1024"
    assert settings.transcription_api_key is not None
    assert settings.transcription_api_key.reveal() == "sk-main"
    config = settings.bot_config("1")
    assert config.transcription_tokens_per_second == core.transcription_tokens_per_second
    assert config.max_voice_seconds == core.max_voice_seconds
    assert config.image_price == core.image_price
    assert config.max_document_bytes == core.max_document_bytes


def test_media_settings_are_read(tmp_path: Path) -> None:
    settings = settings_from(
        {
            **KEY,
            "OPENAI_BASE_URL": "https://chat.test/v1",
            "TRANSCRIPTION_MODEL": "whisper-large-v3",
            "TRANSCRIPTION_BASE_URL": "http://127.0.0.1:8000/v1",
            "TRANSCRIPTION_API_KEY": "local",
            "TRANSCRIPTION_TOKENS_PER_SECOND": "2.5",
            "MAX_VOICE_SECONDS": "120",
            "IMAGE_MODEL": "gpt-image-2-mini",
            "IMAGE_SIZE": "1536X1024",
            "IMAGE_PRICE": "0",
            "MAX_DOCUMENT_BYTES": "2_000_000",
        },
        tmp_path,
    )
    config = settings.bot_config("1")

    assert settings.transcription_model == "whisper-large-v3"
    assert settings.transcription_base_url == "http://127.0.0.1:8000/v1"
    assert settings.transcription_api_key is not None
    assert settings.transcription_api_key.reveal() == "local"
    assert settings.image_model == "gpt-image-2-mini"
    assert settings.image_size == "1536x1024"
    assert config.transcription_tokens_per_second == 2.5
    assert (config.max_voice_seconds, config.image_price) == (120, 0)
    assert config.max_document_bytes == 2_000_000
    # Transcription defaults to the chat endpoint; no key anywhere means the offline one.
    assert settings_from(
        {**KEY, "OPENAI_BASE_URL": "https://chat.test/v1"}
    ).transcription_base_url == ("https://chat.test/v1")
    assert settings_from({}).transcription_api_key is None


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TRANSCRIPTION_TOKENS_PER_SECOND", "nan", "must be a finite number"),
        ("TRANSCRIPTION_TOKENS_PER_SECOND", "-1", "must be between 0 and 10000"),
        ("MAX_VOICE_SECONDS", "0", "MAX_VOICE_SECONDS must be greater than zero"),
        ("MAX_VOICE_SECONDS", "1000000", "MAX_VOICE_SECONDS must be at most 86,400"),
        ("IMAGE_PRICE", "-5", "IMAGE_PRICE cannot be negative"),
        ("IMAGE_PRICE", "lots", "IMAGE_PRICE must be a whole number"),
        ("IMAGE_SIZE", "big", "IMAGE_SIZE must be WIDTHxHEIGHT"),
        ("IMAGE_SIZE", "10x10", "IMAGE_SIZE must be WIDTHxHEIGHT"),
        ("TRANSCRIPTION_BASE_URL", "localhost:8000", "TRANSCRIPTION_BASE_URL must be an http://"),
        ("TRANSCRIPTION_MODEL", "two words", "TRANSCRIPTION_MODEL must be one word"),
        ("MAX_DOCUMENT_BYTES", "0", "MAX_DOCUMENT_BYTES must be greater than zero"),
    ],
)
def test_a_bad_media_setting_is_named(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        settings_from({name: value})


EXAMPLE_ENV = Path(__file__).parents[2] / "example.env"


def test_example_env_documents_every_new_setting_and_loads() -> None:
    text = EXAMPLE_ENV.read_text(encoding="utf-8")
    for name in (
        "MODELS",
        "TRANSCRIPTION_MODEL",
        "TRANSCRIPTION_BASE_URL",
        "TRANSCRIPTION_API_KEY",
        "TRANSCRIPTION_TOKENS_PER_SECOND",
        "MAX_VOICE_SECONDS",
        "IMAGE_MODEL",
        "IMAGE_SIZE",
        "IMAGE_PRICE",
        "MAX_DOCUMENT_BYTES",
    ):
        assert f"\n{name}=" in text, name
    settings = settings_from(load_environment(EXAMPLE_ENV) | {"OPENAI_API_KEY": ""})
    assert settings.models[0].option.name == "offline"


def test_the_example_list_of_models_in_example_env_works(tmp_path: Path) -> None:
    lines = EXAMPLE_ENV.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("# MODELS="))
    example = [lines[start][2:], lines[start + 1][2:]]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(example) + "\n", encoding="utf-8")

    settings = settings_from(dict(load_environment(env_file)) | KEY, tmp_path)

    luna, big, local = settings.models
    assert luna.option.description == "fast, inexpensive"
    assert big.option.price == 10.0
    assert (local.option.price, local.window, local.base_url) == (
        0.0,
        8_192,
        "http://127.0.0.1:11434/v1",
    )


def test_an_offline_model_among_real_ones_is_noted(tmp_path: Path) -> None:
    settings = settings_from({"MODELS": "real api_key=sk-x; pretend"}, tmp_path)

    assert settings.notes == (
        "MODELS: pretend has no api_key and OPENAI_API_KEY is empty: "
        "the offline model answers for it",
    )
    assert settings.token_counter == "tiktoken"


def test_the_consoles_pictures_go_beside_the_data_file(tmp_path: Path) -> None:
    settings = settings_from({"DATA_FILE": "bot/data.json"}, tmp_path)

    assert settings.pictures_dir() == tmp_path / "bot" / "data.pictures"


@pytest.mark.parametrize("listed", ['""', '" "', 'gpt-5; ""'])
def test_a_blank_model_name_is_refused(listed: str) -> None:
    with pytest.raises(ConfigError, match="must start with the model's name"):
        settings_from({"OPENAI_API_KEY": "sk-test", "MODELS": listed})


@pytest.mark.parametrize(
    ("listed", "names"),
    [
        ("a;b\nc", ["a", "b", "c"]),
        ("a ;; \n\n b\t", ["a", "b"]),
        ('"a b"', ["a b"]),
        ('a description="x; y" ; b', ["a", "b"]),
        ("it's", ["it's"]),  # only " quotes
    ],
)
def test_the_list_is_split_as_it_is_written(listed: str, names: list[str]) -> None:
    settings = settings_from({**KEY, "MODELS": listed})
    assert [entry.name for entry in settings.models] == names


def test_a_key_is_read_exactly_as_written() -> None:
    # No escapes, no comments, no other quote: a key with \, # or ' stays whole.
    key = r"sk-a\b#c'd"
    (entry,) = settings_from({"MODELS": f'm api_key={key} description="x y"'}).models
    assert entry.api_key is not None
    assert entry.api_key.reveal() == key
    assert entry.option.description == "x y"


# -- the API and the tools of each model (issue 21) ---------------------------------------------


def test_openai_answers_through_responses_and_other_servers_through_chat(tmp_path: Path) -> None:
    models = (
        "gpt-6-luna tools=web_search; gpt-5 api=chat; "
        "llama3.2 base_url=http://127.0.0.1:8080/v1; qwen3 base_url=http://127.0.0.1:8000/v1 "
        "api=responses tools=web_search"
    )
    luna, chat, local, vllm = settings_from({**KEY, "MODELS": models}, tmp_path).models

    assert [e.uses_responses for e in (luna, chat, local, vllm)] == [True, False, False, True]
    assert [e.option.web_search for e in (luna, chat, local, vllm)] == [True, False, False, True]
    (default,) = settings_from(KEY, tmp_path).models
    assert default.uses_responses
    assert not default.option.web_search


@pytest.mark.parametrize(
    ("models", "wording"),
    [
        ("gpt-5 api=soap", "api must be responses or chat"),
        ("gpt-5 tools=code_interpreter", "unknown tool 'code_interpreter'"),
        ("gpt-5 api=chat tools=web_search", "web_search needs the Responses API"),
        ("llama base_url=http://127.0.0.1:8080/v1 tools=web_search", "needs the Responses API"),
    ],
)
def test_a_wrong_api_or_tool_is_refused(tmp_path: Path, models: str, wording: str) -> None:
    with pytest.raises(ConfigError, match=wording):
        settings_from({**KEY, "MODELS": models}, tmp_path)


def test_cached_input_and_search_prices(tmp_path: Path) -> None:
    documented = EXAMPLE_ENV.read_text(encoding="utf-8")
    assert "\nCACHED_INPUT_PRICE=0.1\n" in documented
    assert "\nSEARCH_PRICE=1000\n" in documented
    config = settings_from(KEY, tmp_path).bot_config("1")
    assert (config.cached_input_price, config.search_price) == (0.1, 1_000)
    env = {**KEY, "CACHED_INPUT_PRICE": "0.5", "SEARCH_PRICE": "0"}
    config = settings_from(env, tmp_path).bot_config("1")
    assert (config.cached_input_price, config.search_price) == (0.5, 0)
    with pytest.raises(ConfigError, match="CACHED_INPUT_PRICE"):
        settings_from({**KEY, "CACHED_INPUT_PRICE": "1.5"}, tmp_path)


async def test_the_composition_root_builds_the_api_each_entry_says(tmp_path: Path) -> None:
    from adapters.models.openai.chat import OpenAIChatModel
    from adapters.models.openai.responses import OpenAIResponsesModel
    from core.tokens import CharTokenCounter
    from entrypoints.bootstrap import build_models

    settings = settings_from(
        {**KEY, "MODELS": "gpt-6-luna tools=web_search; gpt-5 api=chat"}, tmp_path
    )
    models = build_models(settings, CharTokenCounter()).models
    assert isinstance(models["gpt-6-luna"], OpenAIResponsesModel)
    assert isinstance(models["gpt-5"], OpenAIChatModel)
    for model in models.values():
        await model.close()
