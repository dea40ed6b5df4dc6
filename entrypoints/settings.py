"""Settings: a pure function of a mapping (the environment after ``.env`` is loaded).

Every setting is read here, once, into a frozen object; a missing or malformed one is a
``ConfigError`` naming it. Secrets are wrapped so they never show in a repr or a log line.

The settings that stand alone are a table (``_TABLE``: field, variable, kind, default), each
kind parsed by one function of ``entrypoints.setting_types``; the few that depend on others
(paths, the models, the token counter, the admin) are read after it, in a few lines each.
A blank value is the default. environ-config was considered: it would bring a second way to
declare the same frozen class, treat a blank value as a value, and word its own errors, while
the operator's messages here say what is wrong in the setting's own terms.
"""

from __future__ import annotations

import logging
import os
import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Generic

import attrs
from dotenv import dotenv_values

from core.config import BotConfig
from core.models import ModelOption
from core.modes import Mode
from core.texts import LANGUAGES
from core.tokens import CharTokenCounter, fit_budgets, prompt_tokens
from core.values import Role, Turn, access_key
from entrypoints import setting_types as kinds
from entrypoints.model_list import Defaults, ModelEntry, default_entry, parse_models
from entrypoints.modes_file import read_modes
from entrypoints.setting_types import REASONING_EFFORTS as REASONING_EFFORTS
from entrypoints.setting_types import ConfigError as ConfigError
from entrypoints.setting_types import Parser, T
from entrypoints.setting_types import Secret as Secret

# A current, inexpensive OpenAI chat model (gpt-4o-mini, the default before, shuts down on
# 2027-01-14). It reasons by default, which would make chat slow and spend the reply cap on
# thinking, so it is asked for no reasoning.
DEFAULT_MODEL = "gpt-6-luna"
DEFAULT_EFFORT = "none"
# The core's own defaults are the settings' defaults: one place for each number. Most prompt
# tokens per request (CONTEXT_TOKEN_LIMIT, 8 000): today's models take 128 000 and more, but
# every prompt token is paid from the user's balance on every message of a conversation; 8 000
# (about 30 000 characters of English) keeps a long conversation and a long pasted text, at a
# price a balance of 30 000 can pay a few times. Fitted into smaller windows.
CORE = BotConfig(admin_id="")
DEFAULT_CONTEXT_LIMIT = CORE.context_budget
# A CPU server reads a long prompt before its first token: 16-20 s for a few thousand tokens
# of a small model was measured, a larger model takes minutes.
DEFAULT_FIRST_TOKEN_TIMEOUT = 120.0
# OpenAI's current transcription and image models (whisper-1, the gpt-4o-*-transcribe models,
# dall-e-* and gpt-image-1 are shut down).
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"
DEFAULT_IMAGE_MODEL = "gpt-image-2"
DEFAULT_IMAGE_SIZE = "1024x1024"
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
# Bounds far beyond any sensible value, so a typo (an extra zero, a unit mistaken) is caught
# before it is sent to the model as max_tokens or waits for ever.
MAX_SECONDS = 3_600.0
MAX_OFFLINE_DELAY = 10.0
MAX_TOKENS = 1_000_000
MAX_BALANCE = 10**15 - 1  # what data.json keeps (adapters.storage.json.format.LIMIT)
MAX_VOICE_SECONDS = 24 * 3_600
MAX_TOKENS_PER_SECOND = 10_000.0
MAX_DOCUMENT_BYTES = 50_000_000  # the text of a file this size is far beyond any prompt budget
MAX_RETRIES = 10
# A message needs some room after the system prompt, or every one would be refused.
ROOM_FOR_A_MESSAGE = 100


@attrs.frozen
class Setting(Generic[T]):
    """One variable of the environment: its kind and its default (blank: the default)."""

    variable: str
    parse: Parser[T]
    default: T

    def read(self, env: Mapping[str, str]) -> T:
        raw = env.get(self.variable)
        if raw is None or not raw.strip():
            return self.default
        return self.parse(raw.strip(), self.variable)


def _fraction_of_seconds(most: float) -> Parser[float]:
    """Seconds from 0 to ``most``."""

    def parse(raw: str, name: str) -> float:
        value = kinds.number(raw, name)
        kinds.within(name, value, 0, most)
        return value

    return parse


def _share(raw: str, name: str) -> float:
    """A fraction from 0 to 1."""
    value = kinds.number(raw, name)
    kinds.within(name, value, 0, 1)
    return value


_SIZE = re.compile(r"(\d{2,5})x(\d{2,5})")


def _image_size(raw: str, name: str) -> str:
    """WIDTHxHEIGHT as the images API takes it, or auto (the model chooses)."""
    value = raw.strip().lower()
    if value == "auto":
        return value
    match = _SIZE.fullmatch(value)
    if match is None or not all(64 <= int(side) <= 8_192 for side in match.groups()):
        raise ConfigError(
            f"{name} must be WIDTHxHEIGHT (each 64 to 8192 pixels, as 1024x1024) or auto, "
            f"got {raw!r}"
        )
    return value


# The settings that stand alone: the field of Settings each fills, and how it is read.
def _entries(raw: str, name: str) -> tuple[str, ...]:
    """Ids or @usernames, separated by commas (or spaces), as the access list keeps them."""
    entries = [access_key(word) for word in re.split(r"[,\s]+", raw) if word.strip()]
    for entry in entries:
        if entry == "@" or (not entry.startswith("@") and not entry.lstrip("-").isalnum()):
            raise ConfigError(f"{name} must list ids or @usernames, got {entry!r}")
    return tuple(dict.fromkeys(entries))


def _time_zone(raw: str, name: str) -> str:
    """An IANA time zone the standard library knows (Europe/Berlin, UTC)."""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone such as UTC or Europe/Berlin, got {raw!r}"
        ) from None
    return raw


_TABLE: dict[str, Setting[Any]] = {
    "telegram_api_id": Setting("TELEGRAM_API_ID", kinds.whole, None),
    "thread_retention": Setting("THREAD_RETENTION", kinds.count(1, 100_000_000), 100_000),
    "starting_balance": Setting(
        "STARTING_BALANCE", kinds.count(0, MAX_BALANCE), CORE.starting_balance
    ),
    "reply_token_limit": Setting("REPLY_TOKEN_LIMIT", kinds.count(1, MAX_TOKENS), CORE.reply_cap),
    "context_token_limit": Setting(
        "CONTEXT_TOKEN_LIMIT", kinds.count(1, 10 * MAX_TOKENS), DEFAULT_CONTEXT_LIMIT
    ),
    "min_reply_tokens": Setting(
        "MIN_REPLY_TOKENS", kinds.count(1, MAX_TOKENS), CORE.min_reply_tokens
    ),
    "prompt_max_chars": Setting(
        "PROMPT_MAX_CHARS", kinds.count(1, MAX_TOKENS), CORE.prompt_max_chars
    ),
    "default_prompt": Setting("DEFAULT_PROMPT", kinds.text, CORE.default_prompt),
    "default_language": Setting(
        "DEFAULT_LANGUAGE",
        kinds.one_of(LANGUAGES, f"one of {', '.join(sorted(LANGUAGES))}"),
        CORE.default_language,
    ),
    "token_footer": Setting("TOKEN_FOOTER", kinds.boolean, CORE.footer),
    "notify_new_users": Setting("NOTIFY_ADMIN_NEW_USERS", kinds.boolean, CORE.notify_new_users),
    "notify_requests": Setting("NOTIFY_ADMIN_REQUESTS", kinds.boolean, CORE.notify_requests),
    "offline_delay": Setting("OFFLINE_MODEL_DELAY", _fraction_of_seconds(MAX_OFFLINE_DELAY), 0.02),
    "log_level": Setting(
        "LOG_LEVEL",
        kinds.one_of(
            {"DEBUG", "INFO", "WARNING", "ERROR"}, "DEBUG, INFO, WARNING or ERROR", upper=True
        ),
        "WARNING",
    ),
    "openai_model": Setting("OPENAI_MODEL", kinds.text, DEFAULT_MODEL),
    "openai_base_url": Setting("OPENAI_BASE_URL", kinds.url, None),
    "openai_timeout": Setting("OPENAI_TIMEOUT", kinds.seconds(MAX_SECONDS), 60.0),
    "openai_stall_timeout": Setting("OPENAI_STALL_TIMEOUT", kinds.seconds(MAX_SECONDS), 30.0),
    "openai_first_token_timeout": Setting(
        "OPENAI_FIRST_TOKEN_TIMEOUT", kinds.seconds(MAX_SECONDS), DEFAULT_FIRST_TOKEN_TIMEOUT
    ),
    "model_context_window": Setting("MODEL_CONTEXT_WINDOW", kinds.window, None),
    "openai_max_retries": Setting("OPENAI_MAX_RETRIES", kinds.count(0, MAX_RETRIES), 2),
    # How long a request waits for the database before the person is told it is unavailable.
    "database_wait": Setting("DATABASE_WAIT", kinds.seconds(MAX_SECONDS), 10.0),
    "stream_mode": Setting(
        "STREAM_MODE", kinds.one_of({"auto", "draft", "edit"}, "auto, draft or edit"), "auto"
    ),
    "transcription_model": Setting("TRANSCRIPTION_MODEL", kinds.word, DEFAULT_TRANSCRIPTION_MODEL),
    "transcription_tokens_per_second": Setting(
        "TRANSCRIPTION_TOKENS_PER_SECOND",
        _fraction_of_seconds(MAX_TOKENS_PER_SECOND),
        CORE.transcription_tokens_per_second,
    ),
    "max_voice_seconds": Setting(
        "MAX_VOICE_SECONDS", kinds.count(1, MAX_VOICE_SECONDS), CORE.max_voice_seconds
    ),
    "image_model": Setting("IMAGE_MODEL", kinds.word, DEFAULT_IMAGE_MODEL),
    "image_size": Setting("IMAGE_SIZE", _image_size, DEFAULT_IMAGE_SIZE),
    "image_price": Setting("IMAGE_PRICE", kinds.count(0, MAX_BALANCE), CORE.image_price),
    # Spoken answers (/voice on): each person turns them on; the operator may offer none.
    "tts_enabled": Setting("TTS_ENABLED", kinds.boolean, True),
    "tts_model": Setting("TTS_MODEL", kinds.word, DEFAULT_TTS_MODEL),
    "tts_voice": Setting("TTS_VOICE", kinds.word, None),
    "tts_price": Setting(
        "TTS_PRICE", _fraction_of_seconds(MAX_TOKENS_PER_SECOND), CORE.speech_tokens_per_char
    ),
    "tts_max_chars": Setting("TTS_MAX_CHARS", kinds.count(1, MAX_TOKENS), CORE.max_speech_chars),
    # Cached input at this fraction of its price; each web search at SEARCH_PRICE tokens.
    "cached_input_price": Setting("CACHED_INPUT_PRICE", _share, CORE.cached_input_price),
    "search_price": Setting("SEARCH_PRICE", kinds.count(0, MAX_BALANCE), CORE.search_price),
    "max_document_bytes": Setting(
        "MAX_DOCUMENT_BYTES", kinds.count(1, MAX_DOCUMENT_BYTES), CORE.max_document_bytes
    ),  # Who may use the bot (empty: everyone), and the allowance each period (0: none).
    "allowed_users": Setting("ALLOWED_USERS", _entries, CORE.allowed_users),
    "allowed_chats": Setting("ALLOWED_CHATS", _entries, CORE.allowed_chats),
    "allowance": Setting("ALLOWANCE", kinds.count(0, MAX_BALANCE), CORE.allowance),
    "allowance_period": Setting(
        "ALLOWANCE_PERIOD",
        kinds.one_of({"day", "week", "month"}, "day, week or month"),
        CORE.allowance_period,
    ),
    "allowance_tz": Setting("ALLOWANCE_TZ", _time_zone, CORE.allowance_tz),
}
_SECRETS = {
    "openai_api_key": "OPENAI_API_KEY",
    "telegram_api_key": "TELEGRAM_API_KEY",
    "telegram_api_hash": "TELEGRAM_API_HASH",
}


def _secret(env: Mapping[str, str], variable: str) -> Secret | None:
    raw = env.get(variable, "").strip()
    return Secret(raw) if raw else None


@attrs.frozen
class TelegramLogin:
    token: Secret
    api_id: int
    api_hash: Secret
    admin_id: int
    session: Path


@attrs.frozen
class Settings:
    """Everything the entrypoints need; see example.env for what each one means."""

    openai_api_key: Secret | None
    telegram_api_key: Secret | None
    telegram_api_id: int | None
    telegram_api_hash: Secret | None
    admin_chat_id: int | None
    data_file: Path
    threads_file: Path
    database_url: Secret | None  # PostgreSQL instead of data.json (it may hold a password)
    receiver_database_url: Secret | None  # the receiver lock's own address (not via PgBouncer)
    thread_retention: int
    starting_balance: int
    reply_token_limit: int
    context_token_limit: int
    min_reply_tokens: int
    prompt_max_chars: int
    default_prompt: str
    default_language: str
    token_footer: bool
    notify_new_users: bool
    notify_requests: bool
    offline_delay: float
    log_level: str
    openai_model: str = DEFAULT_MODEL
    openai_reasoning_effort: str | None = DEFAULT_EFFORT
    openai_base_url: str | None = None
    openai_timeout: float = 60.0
    openai_stall_timeout: float = 30.0
    openai_first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT
    model_context_window: int | None = None  # None: the table in adapters.models.openai.facts
    openai_max_retries: int = 2
    # Seconds a request waits for PostgreSQL while it is away, before the person is told.
    database_wait: float = 10.0
    token_counter: str = "tiktoken"
    telegram_session: Path = Path("gptbot.session")
    notes: tuple[str, ...] = ()  # things worth a line in the log once logging is set up
    stream_mode: str = (
        "auto"  # STREAM_MODE: auto, draft or edit (adapters.messengers.telegram.stream.Mode)
    )
    # The models offered, the default first (MODELS; empty: OPENAI_MODEL, or the offline model).
    models: tuple[ModelEntry, ...] = ()
    # Voice: an OpenAI-compatible transcription server; no key anywhere: the offline one.
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    transcription_base_url: str | None = None
    transcription_api_key: Secret | None = None
    transcription_tokens_per_second: float = CORE.transcription_tokens_per_second
    max_voice_seconds: int = CORE.max_voice_seconds
    # Pictures made by /image, through OPENAI_BASE_URL with OPENAI_API_KEY (none: offline).
    image_model: str = DEFAULT_IMAGE_MODEL
    image_size: str = DEFAULT_IMAGE_SIZE
    image_price: int = CORE.image_price
    cached_input_price: float = CORE.cached_input_price
    search_price: int = CORE.search_price
    max_document_bytes: int = CORE.max_document_bytes
    # Spoken answers: OpenAI's audio.speech (or TTS_BASE_URL's server); offline, espeak-ng.
    tts_enabled: bool = True
    tts_model: str = DEFAULT_TTS_MODEL
    tts_voice: str | None = None  # None: the adapter's (alloy; espeak-ng: the person's language)
    tts_base_url: str | None = None
    tts_api_key: Secret | None = None
    tts_price: float = CORE.speech_tokens_per_char
    tts_max_chars: int = CORE.max_speech_chars
    # Who may use the bot (empty: everyone) and the allowance each period (0: none).
    allowed_users: tuple[str, ...] = CORE.allowed_users
    allowed_chats: tuple[str, ...] = CORE.allowed_chats
    allowance: int = CORE.allowance
    allowance_period: str = CORE.allowance_period
    allowance_tz: str = CORE.allowance_tz
    # The modes /mode offers: the shipped set, or as MODES_FILE changes it (empty: shipped).
    modes: tuple[Mode, ...] = ()

    def telegram(self) -> TelegramLogin:
        """What the Telegram bot needs to log in; ConfigError naming whatever is missing."""
        token, api_id, api_hash = (
            self.telegram_api_key,
            self.telegram_api_id,
            self.telegram_api_hash,
        )
        admin = self.admin_chat_id
        if token is None or api_id is None or api_hash is None or admin is None:
            named = (
                ("TELEGRAM_API_KEY", token),
                ("TELEGRAM_API_ID", api_id),
                ("TELEGRAM_API_HASH", api_hash),
                ("ADMIN_CHAT_ID", admin),
            )
            missing = ", ".join(name for name, value in named if value is None)
            raise ConfigError(f"the Telegram bot needs {missing} (see example.env and the README)")
        return TelegramLogin(token, api_id, api_hash, admin, self.telegram_session)

    def model_window(self) -> int:
        """The model's context window: MODEL_CONTEXT_WINDOW, else on OpenAI's API the known
        table, else 4 096 (what its server reports is learned at start-up, in the bootstrap)."""
        from adapters.models.openai.facts import resolve_window  # plain data; no SDK is imported

        return resolve_window(self.openai_model, self.model_context_window, self.openai_base_url)

    def pictures_dir(self) -> Path:
        """Where the console saves the pictures the bot sends: beside DATA_FILE."""
        return self.data_file.with_name(self.data_file.stem + ".pictures")

    def voices_dir(self) -> Path:
        """Where the console saves the voice notes the bot sends: beside DATA_FILE."""
        return self.data_file.with_name(self.data_file.stem + ".voices")

    def bot_config(self, admin_id: str) -> BotConfig:
        """The core's settings, each model's prompt budget and reply cap fitted inside its
        window (the offline model has none to fit, unless MODELS gives it one); the bot-wide
        ones are the default model's."""
        options = tuple(self._fitted(entry) for entry in self.models)
        context, reply = self.context_token_limit, self.reply_token_limit
        if options and options[0].context_budget is not None:
            context = options[0].context_budget
        if options and options[0].reply_cap is not None:
            reply = options[0].reply_cap
        smallest_reply = min([reply, *(o.reply_cap for o in options if o.reply_cap)])
        return BotConfig(
            admin_id=admin_id,
            starting_balance=self.starting_balance,
            reply_cap=reply,
            context_budget=context,
            min_reply_tokens=min(self.min_reply_tokens, smallest_reply),
            default_language=self.default_language,
            footer=self.token_footer,
            notify_new_users=self.notify_new_users,
            notify_requests=self.notify_requests,
            prompt_max_chars=self.prompt_max_chars,
            default_prompt=self.default_prompt,
            models=options,
            transcription_tokens_per_second=self.transcription_tokens_per_second,
            max_voice_seconds=self.max_voice_seconds,
            image_price=self.image_price,
            speech_tokens_per_char=self.tts_price,
            max_speech_chars=self.tts_max_chars,
            cached_input_price=self.cached_input_price,
            search_price=self.search_price,
            max_document_bytes=self.max_document_bytes,
            allowed_users=self.allowed_users,
            allowed_chats=self.allowed_chats,
            allowance=self.allowance,
            allowance_period=self.allowance_period,
            allowance_tz=self.allowance_tz,
            modes=self.modes,
        )

    def _fitted(self, entry: ModelEntry) -> ModelOption:
        window = entry.context_window()
        if window is None:
            return entry.option
        context, reply = fit_budgets(window, self.context_token_limit, self.reply_token_limit)
        return attrs.evolve(entry.option, context_budget=context, reply_cap=reply)


def settings_from(env: Mapping[str, str], base: Path | None = None) -> Settings:
    """Build the settings from ``env``; relative paths are relative to ``base`` (the cwd)."""
    base = base or Path.cwd()
    values: dict[str, Any] = {field: setting.read(env) for field, setting in _TABLE.items()}
    values |= {field: _secret(env, variable) for field, variable in _SECRETS.items()}
    _check_limits(values)
    notes: list[str] = []
    values |= _paths(env, base)
    values |= _models(env, values, notes)
    values |= _admin(env, notes)
    modes_file = Setting("MODES_FILE", kinds.text, "").read(env)
    if modes_file:
        offered = [entry.name for entry in values["models"]]
        room = values["context_token_limit"] - ROOM_FOR_A_MESSAGE
        values["modes"] = read_modes(base / modes_file, offered, room)
    database = _database(env, "DATABASE_URL", None)
    # Voice goes to the chat's server with the chat's key unless told otherwise.
    transcription_url = Setting("TRANSCRIPTION_BASE_URL", kinds.url, values["openai_base_url"])
    return Settings(
        **values,
        database_url=database,
        receiver_database_url=_database(env, "RECEIVER_DATABASE_URL", database),
        transcription_base_url=transcription_url.read(env),
        transcription_api_key=_secret(env, "TRANSCRIPTION_API_KEY") or values["openai_api_key"],
        tts_base_url=Setting("TTS_BASE_URL", kinds.url, values["openai_base_url"]).read(env),
        tts_api_key=_secret(env, "TTS_API_KEY") or values["openai_api_key"],
        notes=tuple(notes),
    )


def _database(env: Mapping[str, str], variable: str, default: Secret | None) -> Secret | None:
    """A PostgreSQL address (a secret: it may hold a password, so it is never quoted back)."""
    address = _secret(env, variable) or default
    if address is not None and not address.reveal().startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{variable} must be a postgresql://user:password@host/dbname address")
    return address


def _check_limits(values: Mapping[str, Any]) -> None:
    """The token limits that depend on each other."""
    reply, least = values["reply_token_limit"], values["min_reply_tokens"]
    if least > reply:
        raise ConfigError(f"MIN_REPLY_TOKENS ({least}) cannot exceed REPLY_TOKEN_LIMIT ({reply})")
    context = values["context_token_limit"]
    system = prompt_tokens(CharTokenCounter(), [Turn(Role.SYSTEM, values["default_prompt"])])
    if context < system + ROOM_FOR_A_MESSAGE:
        raise ConfigError(
            f"CONTEXT_TOKEN_LIMIT ({context:,}) leaves no room for a message: the system "
            f"prompt (DEFAULT_PROMPT) alone costs {system:,} tokens; set it to at least "
            f"{system + ROOM_FOR_A_MESSAGE:,}"
        )


def _paths(env: Mapping[str, str], base: Path) -> dict[str, Path]:
    """The files, relative to ``base``; the reply chains beside data.json by default."""
    data_file = base / Setting("DATA_FILE", kinds.text, "data.json").read(env)
    threads = Setting("THREADS_FILE", kinds.text, "").read(env)
    return {
        "data_file": data_file,
        "threads_file": base / threads
        if threads
        else data_file.with_name(data_file.stem + ".threads.db"),
        "telegram_session": base
        / Setting("TELEGRAM_SESSION", kinds.text, "gptbot.session").read(env),
    }


def _models(env: Mapping[str, str], values: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The models offered, their reasoning effort, and how their tokens are counted."""
    model = values["openai_model"]
    # The default model answers best for chat without a reasoning pass; another model gets the
    # parameter only when asked, since models that do not reason refuse it.
    effort_set = bool(env.get("OPENAI_REASONING_EFFORT", "").strip())
    unset = DEFAULT_EFFORT if model == DEFAULT_MODEL else None
    effort = Setting("OPENAI_REASONING_EFFORT", kinds.effort, unset).read(env)
    defaults = Defaults(
        base_url=values["openai_base_url"],
        api_key=values["openai_api_key"],
        window=values["model_context_window"],
        model=model,
        effort=effort,
        effort_set=effort_set,
        default_model=DEFAULT_MODEL,
        default_effort=DEFAULT_EFFORT,
    )
    listed = Setting("MODELS", kinds.text, "").read(env)
    models = parse_models(listed, env, defaults) if listed else (default_entry(defaults),)
    offline = [entry for entry in models if entry.offline]
    if len(offline) < len(models):
        notes += [
            f"MODELS: {entry.name} has no api_key and OPENAI_API_KEY is empty: "
            "the offline model answers for it"
            for entry in offline
        ]
    # tiktoken: the model's own tokenizer for OpenAI models, the calibrated heuristic for others.
    # When only the offline model answers: its tokens are notional, and the heuristic spares
    # the 0.4 s of loading a tokenizer table.
    counter = Setting(
        "TOKEN_COUNTER",
        kinds.one_of({"heuristic", "tiktoken"}, "tiktoken or heuristic"),
        "heuristic" if len(offline) == len(models) else "tiktoken",
    ).read(env)
    return {
        "models": models,
        "openai_reasoning_effort": effort,
        "token_counter": counter,
    }


def _admin(env: Mapping[str, str], notes: list[str]) -> dict[str, int | None]:
    admin = Setting("ADMIN_CHAT_ID", kinds.whole, None).read(env)
    older = Setting("ADMIN_ID", kinds.whole, None).read(env)
    if admin is None and older is not None:
        # The older bot's name for it: an operator moving over keeps their .env.
        admin = older
        notes.append("ADMIN_ID is read as ADMIN_CHAT_ID (the older bot's name for it)")
    return {"admin_chat_id": admin}


def load_environment(env_file: Path | None = None) -> dict[str, str]:
    """The process environment over the ``.env`` file: a variable set in the shell wins."""
    values = {k: v for k, v in dotenv_values(env_file or Path(".env")).items() if v is not None}
    values.update(os.environ)
    return values


def start_logging(
    settings: Settings, form: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"
) -> None:
    """Configure logging as the settings say (only entrypoints configure it) and log the
    notes the settings left (an old name read, a default assumed)."""
    logging.basicConfig(level=settings.log_level, format=form)
    for note in settings.notes:
        logging.getLogger("entrypoints").warning("%s", note)
