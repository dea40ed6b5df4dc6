"""The core's settings: the composition root builds them once from the messenger's and the
operator's settings."""

from __future__ import annotations

import attrs

from core.models import ModelOption
from core.modes import Mode
from core.prompts import DEFAULT_PROMPT
from core.values import UserId


@attrs.frozen
class BotConfig:
    admin_id: UserId
    starting_balance: int = 30_000
    reply_cap: int = 3_000  # most tokens one answer may use
    context_budget: int = 8_000  # most tokens of prompt sent to the model
    min_reply_tokens: int = 50  # a request is refused when the balance cannot pay this many
    default_language: str = "en"
    footer: bool = True
    notify_new_users: bool = True
    notify_requests: bool = False
    prompt_max_chars: int = 2_000
    default_prompt: str = DEFAULT_PROMPT
    # The models offered; the first is the default. Empty: one model, priced 1, that the
    # composition root names.
    models: tuple[ModelOption, ...] = ()
    # Voice: charged by the second of speech, held before transcribing.
    transcription_tokens_per_second: float = 10.0
    max_voice_seconds: int = 600
    max_voice_bytes: int = 25_000_000  # OpenAI's transcription API takes up to 25 MB
    # Pictures: made by /image at a fixed price each; received ones sent to models that see.
    image_price: int = 5_000
    # Prompt caching and web search (where a model's server offers them): input tokens served
    # from the provider's cache cost this fraction of their price; each web search costs
    # ``search_price`` balance tokens, and an answer may run up to ``max_searches``.
    cached_input_price: float = 0.1
    search_price: int = 1_000
    max_searches: int = 3
    max_image_bytes: int = 10_000_000
    max_thread_images: int = 4  # pictures of older turns sent again with a request
    # Spoken answers (/voice on): charged per character read aloud, held before the speech is
    # made; an answer longer than ``max_speech_chars`` is read up to there.
    speech_tokens_per_char: float = 2.0
    max_speech_chars: int = 4_096  # OpenAI's audio.speech takes at most 4 096 characters
    # Files read into a turn as text.
    max_document_bytes: int = 1_000_000
    # Access (core.access): both empty, everyone may use the bot; otherwise the admin, these
    # people (ids or @usernames) and everyone in these chats, as the access list keeps them.
    allowed_users: tuple[str, ...] = ()
    allowed_chats: tuple[str, ...] = ()
    # Allowances (core.allowances): each period a balance below ``allowance`` is raised to it;
    # 0: none. The period is "day", "week" or "month", starting at midnight in ``allowance_tz``
    # (an IANA time zone).
    allowance: int = 0
    allowance_period: str = "month"
    allowance_tz: str = "UTC"
    # The modes /mode offers (``core.modes``); empty: the shipped set.
    modes: tuple[Mode, ...] = ()
