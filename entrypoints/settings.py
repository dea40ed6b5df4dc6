"""Settings: a pure function of a mapping (the environment after ``.env`` is loaded).

Every setting is read here, once, into a frozen object; a missing or malformed one is a
``ConfigError`` naming it. Secrets are wrapped so they never show in a repr or a log line.
"""

from __future__ import annotations

import math
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
from dotenv import dotenv_values

from core.config import BotConfig
from core.models import ModelOption
from core.texts import LANGUAGES
from core.tokens import CharTokenCounter, fit_budgets, prompt_tokens
from core.values import Role, Turn, access_key
from entrypoints.model_list import REASONING_EFFORTS as REASONING_EFFORTS
from entrypoints.model_list import Defaults, ModelEntry, default_entry, parse_models
from entrypoints.setting_types import ConfigError as ConfigError
from entrypoints.setting_types import Secret as Secret

T = TypeVar("T")

# A current, inexpensive OpenAI chat model (gpt-4o-mini, the default before, shuts down on
# 2027-01-14). It reasons by default, which would make chat slow and spend the reply cap on
# thinking, so it is asked for no reasoning.
DEFAULT_MODEL = "gpt-6-luna"
DEFAULT_EFFORT = "none"
# Most prompt tokens per request. Today's models take 128 000 and more, but every prompt token is
# paid from the user's balance on every message of a conversation: 8 000 (about 30 000
# characters of English) keeps a long conversation and a long pasted text, at a price a
# balance of 30 000 can pay a few times. Fitted into smaller windows (MODEL_CONTEXT_WINDOW).
# The core's own defaults are the settings' defaults: one place for each number.
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
MAX_VOICE_SECONDS = 24 * 3_600
MAX_TOKENS_PER_SECOND = 10_000.0
MAX_DOCUMENT_BYTES = 50_000_000  # the text of a file this size is far beyond any prompt budget


def _int(raw: str, name: str) -> int:
    try:
        return int(raw.replace("_", "").replace(" ", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    return value


# Bounds far beyond any sensible value, so a typo (an extra zero, a unit mistaken) is caught
# before it is sent to the model as max_tokens or waits for ever.
MAX_SECONDS = 3_600.0
MAX_OFFLINE_DELAY = 10.0
MAX_TOKENS = 1_000_000
MAX_BALANCE = 10**15 - 1  # what data.json keeps (adapters.storage.json.format.LIMIT)
# A message needs some room after the system prompt, or every one would be refused.
ROOM_FOR_A_MESSAGE = 100


def _within(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(raw: str, name: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// address, got {raw!r}")
    return raw


def _effort(raw: str, name: str) -> str | None:
    value = raw.lower()
    if value == "default":
        return None
    if value not in REASONING_EFFORTS:
        choices = ", ".join(REASONING_EFFORTS)
        raise ConfigError(f"{name} must be default, {choices}; got {raw!r}")
    return value


def _language(raw: str, name: str) -> str:
    value = raw.strip().lower()
    if value not in LANGUAGES:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(LANGUAGES))}, got {raw!r}")
    return value


@attrs.define
class _Reader:
    env: Mapping[str, str]

    def get(self, name: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = self.env.get(name)
        if raw is None or not raw.strip():
            return default
        return parse(raw.strip(), name)

    def positive(self, name: str, default: int, most: int = MAX_TOKENS) -> int:
        value = self.get(name, _int, default)
        if value <= 0:
            raise ConfigError(f"{name} must be greater than zero, got {value}")
        if value > most:
            raise ConfigError(f"{name} must be at most {most:,}, got {value:,}")
        return value

    def secret(self, name: str) -> Secret | None:
        raw = self.env.get(name, "").strip()
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
    max_document_bytes: int = CORE.max_document_bytes
    # Who may use the bot (empty: everyone) and the allowance each period (0: none).
    allowed_users: tuple[str, ...] = CORE.allowed_users
    allowed_chats: tuple[str, ...] = CORE.allowed_chats
    allowance: int = CORE.allowance
    allowance_period: str = CORE.allowance_period
    allowance_tz: str = CORE.allowance_tz

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
        """The model's context window: MODEL_CONTEXT_WINDOW, else the known table, else 4 096."""
        from adapters.models.openai.facts import resolve_window  # plain data; no SDK is imported

        return resolve_window(self.openai_model, self.model_context_window)

    def pictures_dir(self) -> Path:
        """Where the console saves the pictures the bot sends: beside DATA_FILE."""
        return self.data_file.with_name(self.data_file.stem + ".pictures")

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
            max_document_bytes=self.max_document_bytes,
            allowed_users=self.allowed_users,
            allowed_chats=self.allowed_chats,
            allowance=self.allowance,
            allowance_period=self.allowance_period,
            allowance_tz=self.allowance_tz,
        )

    def _fitted(self, entry: ModelEntry) -> ModelOption:
        window = entry.context_window()
        if window is None:
            return entry.option
        context, reply = fit_budgets(window, self.context_token_limit, self.reply_token_limit)
        return attrs.evolve(entry.option, context_budget=context, reply_cap=reply)


def settings_from(env: Mapping[str, str], base: Path | None = None) -> Settings:
    """Build the settings from ``env``; relative paths are relative to ``base`` (the cwd)."""
    read = _Reader(env)
    base = base or Path.cwd()
    data_file = base / read.get("DATA_FILE", lambda raw, _: raw, "data.json")
    threads_default = data_file.with_name(data_file.stem + ".threads.db")
    threads_file = read.get("THREADS_FILE", lambda raw, _: base / raw, threads_default)
    reply_limit = read.positive("REPLY_TOKEN_LIMIT", CORE.reply_cap)
    min_reply = read.positive("MIN_REPLY_TOKENS", CORE.min_reply_tokens)
    if min_reply > reply_limit:
        raise ConfigError(
            f"MIN_REPLY_TOKENS ({min_reply}) cannot exceed REPLY_TOKEN_LIMIT ({reply_limit})"
        )
    starting = read.get("STARTING_BALANCE", _int, CORE.starting_balance)
    if starting < 0:
        raise ConfigError(f"STARTING_BALANCE cannot be negative, got {starting}")
    if starting > MAX_BALANCE:
        raise ConfigError(f"STARTING_BALANCE must be at most {MAX_BALANCE:,}, got {starting:,}")
    delay = read.get("OFFLINE_MODEL_DELAY", _float, 0.02)
    if delay < 0:
        raise ConfigError(f"OFFLINE_MODEL_DELAY cannot be negative, got {delay}")
    _within("OFFLINE_MODEL_DELAY", delay, 0, MAX_OFFLINE_DELAY)
    timeout = read.get("OPENAI_TIMEOUT", _float, 60.0)
    stall = read.get("OPENAI_STALL_TIMEOUT", _float, 30.0)
    first_token = read.get("OPENAI_FIRST_TOKEN_TIMEOUT", _float, DEFAULT_FIRST_TOKEN_TIMEOUT)
    for name, value in (
        ("OPENAI_TIMEOUT", timeout),
        ("OPENAI_STALL_TIMEOUT", stall),
        ("OPENAI_FIRST_TOKEN_TIMEOUT", first_token),
    ):
        if value <= 0:
            raise ConfigError(f"{name} must be greater than zero, got {value}")
        _within(name, value, 0, MAX_SECONDS)
    database_wait = read.get("DATABASE_WAIT", _float, 10.0)
    if database_wait <= 0:
        raise ConfigError(f"DATABASE_WAIT must be greater than zero, got {database_wait}")
    _within("DATABASE_WAIT", database_wait, 0, MAX_SECONDS)
    retries = read.get("OPENAI_MAX_RETRIES", _int, 2)
    if retries < 0:
        raise ConfigError(f"OPENAI_MAX_RETRIES cannot be negative, got {retries}")
    _within("OPENAI_MAX_RETRIES", retries, 0, 10)
    default_prompt = read.get("DEFAULT_PROMPT", lambda raw, _: raw, CORE.default_prompt)
    context_limit = read.positive("CONTEXT_TOKEN_LIMIT", DEFAULT_CONTEXT_LIMIT, 10 * MAX_TOKENS)
    system = prompt_tokens(CharTokenCounter(), [Turn(Role.SYSTEM, default_prompt)])
    if context_limit < system + ROOM_FOR_A_MESSAGE:
        raise ConfigError(
            f"CONTEXT_TOKEN_LIMIT ({context_limit:,}) leaves no room for a message: the system "
            f"prompt (DEFAULT_PROMPT) alone costs {system:,} tokens; set it to at least "
            f"{system + ROOM_FOR_A_MESSAGE:,}"
        )
    base_url = read.get("OPENAI_BASE_URL", _url, None)
    window = read.get("MODEL_CONTEXT_WINDOW", _int, None)
    if window is not None and window < 256:
        raise ConfigError(f"MODEL_CONTEXT_WINDOW must be at least 256 tokens, got {window}")
    model = read.get("OPENAI_MODEL", lambda raw, _: raw, DEFAULT_MODEL)
    # The default model answers best for chat without a reasoning pass; another model gets the
    # parameter only when asked, since models that do not reason refuse it.
    effort_set = bool(env.get("OPENAI_REASONING_EFFORT", "").strip())
    effort = read.get(
        "OPENAI_REASONING_EFFORT", _effort, DEFAULT_EFFORT if model == DEFAULT_MODEL else None
    )
    api_key = read.secret("OPENAI_API_KEY")
    defaults = Defaults(
        base_url=base_url,
        api_key=api_key,
        window=window,
        model=model,
        effort=effort,
        effort_set=effort_set,
        default_model=DEFAULT_MODEL,
        default_effort=DEFAULT_EFFORT,
    )
    listed = read.get("MODELS", lambda raw, _: raw, "")
    models = parse_models(listed, env, defaults) if listed else (default_entry(defaults),)
    # tiktoken: the model's own tokenizer for OpenAI models, the calibrated heuristic for others.
    # When only the offline model answers: its tokens are notional, and the heuristic spares
    # the 0.4 s of loading a tokenizer table.
    counter = read.get(
        "TOKEN_COUNTER",
        lambda raw, _: raw.lower(),
        "heuristic" if all(entry.offline for entry in models) else "tiktoken",
    )
    if counter not in {"heuristic", "tiktoken"}:
        raise ConfigError(f"TOKEN_COUNTER must be tiktoken or heuristic, got {counter!r}")
    notes: list[str] = []
    if not all(entry.offline for entry in models):
        notes += [
            f"MODELS: {entry.name} has no api_key and OPENAI_API_KEY is empty: "
            "the offline model answers for it"
            for entry in models
            if entry.offline
        ]
    database = read.secret("DATABASE_URL")
    receiver = read.secret("RECEIVER_DATABASE_URL") or database
    for name, url in (("DATABASE_URL", database), ("RECEIVER_DATABASE_URL", receiver)):
        if url is not None and not url.reveal().startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"{name} must be a postgresql://user:password@host/dbname address")
    admin = read.get("ADMIN_CHAT_ID", _int, None)
    if admin is None and read.get("ADMIN_ID", _int, None) is not None:
        # The older bot's name for it: an operator moving over keeps their .env.
        admin = read.get("ADMIN_ID", _int, None)
        notes.append("ADMIN_ID is read as ADMIN_CHAT_ID (the older bot's name for it)")
    level = read.get("LOG_LEVEL", lambda raw, _: raw.upper(), "WARNING")
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return Settings(
        openai_api_key=api_key,
        telegram_api_key=read.secret("TELEGRAM_API_KEY"),
        telegram_api_id=read.get("TELEGRAM_API_ID", _int, None),
        telegram_api_hash=read.secret("TELEGRAM_API_HASH"),
        admin_chat_id=admin,
        data_file=data_file,
        threads_file=threads_file,
        database_url=database,
        receiver_database_url=receiver,
        thread_retention=read.positive("THREAD_RETENTION", 100_000, 100_000_000),
        starting_balance=starting,
        reply_token_limit=reply_limit,
        context_token_limit=context_limit,
        min_reply_tokens=min_reply,
        prompt_max_chars=read.positive("PROMPT_MAX_CHARS", CORE.prompt_max_chars),
        default_prompt=default_prompt,
        default_language=read.get("DEFAULT_LANGUAGE", _language, CORE.default_language),
        token_footer=read.get("TOKEN_FOOTER", _bool, CORE.footer),
        notify_new_users=read.get("NOTIFY_ADMIN_NEW_USERS", _bool, CORE.notify_new_users),
        notify_requests=read.get("NOTIFY_ADMIN_REQUESTS", _bool, CORE.notify_requests),
        offline_delay=delay,
        log_level=level,
        openai_model=model,
        openai_reasoning_effort=effort,
        openai_base_url=base_url,
        openai_timeout=timeout,
        openai_stall_timeout=stall,
        openai_first_token_timeout=first_token,
        model_context_window=window,
        openai_max_retries=retries,
        database_wait=database_wait,
        token_counter=counter,
        telegram_session=base / read.get("TELEGRAM_SESSION", lambda raw, _: raw, "gptbot.session"),
        notes=tuple(notes),
        stream_mode=read.get("STREAM_MODE", _stream_mode, "auto"),
        models=models,
        **_media(read, base_url, api_key),
        **_access(read),
    )


def _media(read: _Reader, base_url: str | None, api_key: Secret | None) -> dict[str, Any]:
    """The settings of voice, pictures and files."""
    per_second = read.get(
        "TRANSCRIPTION_TOKENS_PER_SECOND", _float, CORE.transcription_tokens_per_second
    )
    _within("TRANSCRIPTION_TOKENS_PER_SECOND", per_second, 0, MAX_TOKENS_PER_SECOND)
    image_price = read.get("IMAGE_PRICE", _int, CORE.image_price)
    if not 0 <= image_price <= MAX_BALANCE:
        raise ConfigError(f"IMAGE_PRICE must be between 0 and {MAX_BALANCE:,}, got {image_price:,}")
    return {
        "transcription_model": read.get("TRANSCRIPTION_MODEL", _word, DEFAULT_TRANSCRIPTION_MODEL),
        "transcription_base_url": read.get("TRANSCRIPTION_BASE_URL", _url, base_url),
        "transcription_api_key": read.secret("TRANSCRIPTION_API_KEY") or api_key,
        "transcription_tokens_per_second": per_second,
        "max_voice_seconds": read.positive(
            "MAX_VOICE_SECONDS", CORE.max_voice_seconds, MAX_VOICE_SECONDS
        ),
        "image_model": read.get("IMAGE_MODEL", _word, DEFAULT_IMAGE_MODEL),
        "image_size": read.get("IMAGE_SIZE", _image_size, DEFAULT_IMAGE_SIZE),
        "image_price": image_price,
        "max_document_bytes": read.positive(
            "MAX_DOCUMENT_BYTES", CORE.max_document_bytes, MAX_DOCUMENT_BYTES
        ),
    }


def _access(read: _Reader) -> dict[str, Any]:
    """Who may use the bot, and the allowances."""
    allowance = read.get("ALLOWANCE", _int, CORE.allowance)
    if not 0 <= allowance <= MAX_BALANCE:
        raise ConfigError(f"ALLOWANCE must be between 0 and {MAX_BALANCE:,}, got {allowance:,}")
    return {
        "allowed_users": read.get("ALLOWED_USERS", _entries, CORE.allowed_users),
        "allowed_chats": read.get("ALLOWED_CHATS", _entries, CORE.allowed_chats),
        "allowance": allowance,
        "allowance_period": read.get("ALLOWANCE_PERIOD", _period, CORE.allowance_period),
        "allowance_tz": read.get("ALLOWANCE_TZ", _time_zone, CORE.allowance_tz),
    }


def _entries(raw: str, name: str) -> tuple[str, ...]:
    """Ids or @usernames, separated by commas (or spaces), as the access list keeps them."""
    entries = [access_key(word) for word in re.split(r"[,\s]+", raw) if word.strip()]
    for entry in entries:
        if entry == "@" or (not entry.startswith("@") and not entry.lstrip("-").isalnum()):
            raise ConfigError(f"{name} must list ids or @usernames, got {entry!r}")
    return tuple(dict.fromkeys(entries))


def _period(raw: str, name: str) -> str:
    value = raw.lower()
    if value not in {"day", "week", "month"}:
        raise ConfigError(f"{name} must be day, week or month, got {raw!r}")
    return value


def _time_zone(raw: str, name: str) -> str:
    """An IANA time zone the standard library knows (Europe/Berlin, UTC)."""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone such as UTC or Europe/Berlin, got {raw!r}"
        ) from None
    return raw


def _word(raw: str, name: str) -> str:
    if len(raw.split()) != 1:
        raise ConfigError(f"{name} must be one word (a model's name), got {raw!r}")
    return raw


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


def _stream_mode(raw: str, name: str) -> str:
    value = raw.strip().lower()
    if value not in {"auto", "draft", "edit"}:
        raise ConfigError(f"{name} must be auto, draft or edit, got {raw!r}")
    return value


def load_environment(env_file: Path | None = None) -> dict[str, str]:
    """The process environment over the ``.env`` file: a variable set in the shell wins."""
    values = {k: v for k, v in dotenv_values(env_file or Path(".env")).items() if v is not None}
    values.update(os.environ)
    return values
