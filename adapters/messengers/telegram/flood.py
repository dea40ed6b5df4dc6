"""Our own flood control: shape outgoing traffic before Telegram refuses it, per chat.

Telegram allows a bot about 30 messages a second in all, about 20 a minute in one group and
about one a second in one private chat; past that it answers FLOOD_WAIT_X. Telethon remembers
such a wait per request *type* for the whole client (``_flood_waited_requests``) and then
refuses that type locally for every chat: one group's flood would silence every private chat.
So after each FloodWait we forget Telethon's memory of it and keep our own, per chat.

The limits are sliding windows: never more than N requests in any period. (aiolimiter's leaky
bucket was the first choice, but a bucket of N that drains N a second lets 2N through in one
second: a full bucket at once, then what drains.)

Writes come in two kinds. A message that must arrive (the first text of an answer, a final
part, a command's answer) waits its turn, first come first served. An interim update (an edit
or a draft of a growing answer, "typing…") is skipped when the window is nearly full, leaving
the room to the messages that must arrive; the next update carries newer text anyway.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

import attrs

# Telegram's published guidance for bots (core.telegram.org/bots/faq).
PER_BOT = 30  # requests a second, all chats together
# Requests leave a little later than the pacer lets them (Telethon's own work, the event loop):
# the bot-wide window is this much longer than a second, so that Telegram never sees more than
# PER_BOT in one.
_MARGIN = 0.1
PER_GROUP = 20  # messages a minute in one group
PER_PRIVATE = 1  # messages a second in one private chat
# Interim updates leave this share of the bot-wide window to messages that must arrive.
_HEADROOM = 0.2
_CHATS_KEPT = 10_000  # per-chat windows kept; an evicted one just starts empty again


@attrs.frozen
class Limits:
    """The rates the pacer keeps to; ``None`` switches a limit off (tests of other things)."""

    per_bot_second: int | None = PER_BOT
    per_group_minute: int | None = PER_GROUP
    per_private_second: int | None = PER_PRIVATE


TELEGRAM_LIMITS = Limits()
UNLIMITED = Limits(None, None, None)


class Window:
    """At most ``count`` turns in any ``period`` seconds (loop time), first come first served."""

    def __init__(self, count: int, period: float) -> None:
        self.count = count
        self.period = period
        self._times: collections.deque[float] = collections.deque()
        self._queue = asyncio.Lock()  # FIFO: waiters are served in the order they came
        self._waiting = 0  # turns queued: while any waits, nobody may jump the queue

    def _room(self, now: float) -> int:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        return self.count - len(self._times)

    def has_room(self, reserve: int = 0) -> bool:
        """Room for one turn now, leaving ``reserve`` free, with nobody waiting."""
        now = asyncio.get_running_loop().time()
        return not self._waiting and self._room(now) > reserve

    def take(self) -> None:
        self._times.append(asyncio.get_running_loop().time())

    async def turn(self) -> None:
        self._waiting += 1
        try:
            async with self._queue:
                loop = asyncio.get_running_loop()
                # Sleeping until the oldest turn leaves the window is the whole algorithm: no
                # event would say it sooner, and only this task may take the room meanwhile.
                while self._room(loop.time()) <= 0:  # noqa: ASYNC110
                    await asyncio.sleep(self._times[0] + self.period - loop.time())
                self.take()
        finally:
            self._waiting -= 1


def forget_flood(client: Any, request_type: type) -> None:
    """Drop Telethon's client-wide memory of a FloodWait on ``request_type``.

    The wait was for one chat, and this adapter keeps it for that chat alone.
    """
    memory = getattr(client, "_flood_waited_requests", None)
    if isinstance(memory, dict):
        memory.pop(getattr(request_type, "CONSTRUCTOR_ID", None), None)


class Pacer:
    """The bot-wide and per-chat windows, and each chat's FloodWait."""

    def __init__(
        self, limits: Limits = TELEGRAM_LIMITS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._bot = Window(limits.per_bot_second, 1 + _MARGIN) if limits.per_bot_second else None
        self._chats: collections.OrderedDict[int, Window] = collections.OrderedDict()
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
        a write that is no message (a draft): only the bot-wide window counts it."""
        window = self._chat(chat_id, private) if chat else None
        if window is not None:
            await window.turn()
        if self._bot is not None:
            await self._bot.turn()

    def try_turn(self, chat_id: int, *, private: bool, chat: bool = True) -> bool:
        """Take a turn for an interim update now, or say no without waiting."""
        if self.quiet_for(chat_id):
            return False
        window = self._chat(chat_id, private) if chat else None
        if window is not None and not window.has_room():
            return False
        if self._bot is not None:
            if not self._bot.has_room(reserve=int(_HEADROOM * self._bot.count)):
                return False
            self._bot.take()
        if window is not None:
            window.take()
        return True

    def _chat(self, chat_id: int, private: bool) -> Window | None:
        window = self._chats.get(chat_id)
        if window is not None:
            self._chats.move_to_end(chat_id)
            return window
        if private and self.limits.per_private_second:
            window = Window(self.limits.per_private_second, 1.0)
        elif not private and self.limits.per_group_minute:
            window = Window(self.limits.per_group_minute, 60.0)
        else:
            return None
        self._chats[chat_id] = window
        while len(self._chats) > _CHATS_KEPT:
            self._chats.popitem(last=False)
        return window
