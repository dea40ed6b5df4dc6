"""The core's settings: the composition root builds them once from the messenger's and the
operator's settings."""

from __future__ import annotations

import attrs

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
