"""Our own flood control: shape outgoing traffic before Telegram refuses it, per chat.

Telegram allows a bot about 30 messages a second in all, about 20 a minute in one group and
about one a second in one private chat; past that it answers FLOOD_WAIT_X. Telethon remembers
such a wait per request *type* for the whole client (``_flood_waited_requests``) and then
refuses that type locally for every chat: one group's flood would silence every private chat.
So after each FloodWait we forget Telethon's memory of it and keep our own, per chat.

Writes come in two kinds. A message that must arrive (the first text of an answer, a final
part, a command's answer) waits its turn in the leaky buckets. An interim update (an edit or a
draft of a growing answer) is skipped when the buckets are nearly full, leaving the room to the
messages that must arrive; the next update carries newer text anyway.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

import attrs
from aiolimiter import AsyncLimiter

# Telegram's published guidance for bots (core.telegram.org/bots/faq).
PER_BOT = 30.0  # messages a second, all chats together
PER_GROUP = 20.0  # messages a minute in one group
PER_PRIVATE = 1.0  # messages a second in one private chat
# Interim updates leave this share of the bot-wide bucket to messages that must arrive.
_HEADROOM = 0.2
_CHATS_KEPT = 10_000  # per-chat buckets kept; an evicted one just starts empty again


@attrs.frozen
class Limits:
    """The rates the pacer keeps to; ``None`` switches a limit off (tests of other things)."""

    per_bot: float | None = PER_BOT
    per_group_minute: float | None = PER_GROUP
    per_private_second: float | None = PER_PRIVATE


TELEGRAM_LIMITS = Limits()
UNLIMITED = Limits(None, None, None)


def forget_flood(client: Any, request_type: type) -> None:
    """Drop Telethon's client-wide memory of a FloodWait on ``request_type``.

    The wait was for one chat, and this adapter keeps it for that chat alone.
    """
    memory = getattr(client, "_flood_waited_requests", None)
    if isinstance(memory, dict):
        memory.pop(getattr(request_type, "CONSTRUCTOR_ID", None), None)


class Pacer:
    """The bot-wide and per-chat leaky buckets, and each chat's FloodWait."""

    def __init__(
        self, limits: Limits = TELEGRAM_LIMITS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._bot = AsyncLimiter(limits.per_bot, 1) if limits.per_bot else None
        self._chats: collections.OrderedDict[int, AsyncLimiter] = collections.OrderedDict()
        self._quiet: dict[int, float] = {}

    # -- FloodWaits ----------------------------------------------------------------------------

    def flooded(self, chat_id: int, seconds: float) -> None:
        """Telegram asked this chat to wait ``seconds``."""
        self._quiet[chat_id] = max(self._quiet.get(chat_id, 0.0), self._clock() + seconds)

    def quiet_for(self, chat_id: int) -> float:
        """Seconds this chat must still wait; 0 when it may write."""
        until = self._quiet.get(chat_id)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._quiet[chat_id]
            return 0.0
        return left

    # -- rates ---------------------------------------------------------------------------------

    async def turn(self, chat_id: int, *, private: bool, chat: bool = True) -> None:
        """Wait until a message that must arrive may be written to this chat. ``chat=False``:
        a write that is no message (a draft, "typing"): only the bot-wide bucket counts it."""
        bucket = self._chat(chat_id, private) if chat else None
        if bucket is not None:
            await bucket.acquire()
        if self._bot is not None:
            await self._bot.acquire()

    async def try_turn(self, chat_id: int, *, private: bool, chat: bool = True) -> bool:
        """Take a turn for an interim update now, or say no without waiting."""
        if self.quiet_for(chat_id):
            return False
        bucket = self._chat(chat_id, private) if chat else None
        if bucket is not None and not bucket.has_capacity():
            return False
        if self._bot is not None:
            if not self._bot.has_capacity(1 + _HEADROOM * self._bot.max_rate):
                return False
            await self._bot.acquire()  # there is room: returns without waiting
        if bucket is not None:
            await bucket.acquire()
        return True

    def _chat(self, chat_id: int, private: bool) -> AsyncLimiter | None:
        limiter = self._chats.get(chat_id)
        if limiter is not None:
            self._chats.move_to_end(chat_id)
            return limiter
        if private and self.limits.per_private_second:
            limiter = AsyncLimiter(self.limits.per_private_second, 1)
        elif not private and self.limits.per_group_minute:
            limiter = AsyncLimiter(self.limits.per_group_minute, 60)
        else:
            return None
        self._chats[chat_id] = limiter
        while len(self._chats) > _CHATS_KEPT:
            self._chats.popitem(last=False)
        return limiter
