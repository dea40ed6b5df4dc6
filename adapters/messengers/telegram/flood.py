"""Our own flood control: shape outgoing traffic before Telegram refuses it, per chat.

Telegram allows a bot about 30 messages a second in all, about 20 a minute in one group and
about one a second in one private chat; past that it answers FLOOD_WAIT_X. Telethon remembers
such a wait per request *type* for the whole client (``_flood_waited_requests``) and then
refuses that type locally for every chat: one group's flood would silence every private chat.
So after each FloodWait we forget Telethon's memory of it and keep our own, per chat.

The limits are sliding windows: never more than N requests in any period. (aiolimiter's leaky
bucket was the first choice, but a bucket of N that drains N a second lets 2N through in one
second: a full bucket at once, then what drains.) A request counts from its turn until its
answer has come back, then for the period: counted from the turn alone, a batch of requests
that leaves late (a busy event loop, a busy machine) would reach Telegram together with the
next batch, 60 in one second in the 200-chat benchmark.

Writes come in three kinds, in this order of priority, in every chat and bot-wide. A message
that must arrive (a final part, a command's answer) waits its turn, first come first served.
The first text of an answer waits its turn too, except in a group, where it goes only while the
group's minute keeps a turn for the final of every answer still open there (the final then
shows first). An interim update (an edit or a draft of a growing answer, "typing…") never waits
and never jumps the queue: it is skipped while anyone waits for the bot-wide window or when the
window is nearly full, and in a group while the minute's turns are needed for the open answers'
finals; the next update carries newer text anyway. So in a crowd every chat's first text goes
before anyone's second draft, and a busy group's edits thin out, then stop, before its finals
could be held.

A FloodWait is kept per chat *and per kind of request*: Telegram documents FLOOD_WAIT (error
420, core.telegram.org/api/errors) as "the maximum allowed number of attempts to invoke the
given method with the given input parameters has been exceeded", so a wait earned by a draft
(``messages.setTyping``) or an edit holds that method in that chat, not a final sent as a new
message (``messages.sendMessage``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import heapq
import itertools
import time
import weakref
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
# A turn never told that its request came back counts as back this long after it was taken.
_FLIGHT = 30.0


@attrs.define(eq=False)
class Slot:
    """One turn in one window: when it was taken, and when its request came back."""

    taken: float
    back: float | None = None

    def end(self) -> float:
        return self.back if self.back is not None else self.taken + _FLIGHT


@attrs.frozen
class Limits:
    """The rates the pacer keeps to; ``None`` switches a limit off (tests of other things)."""

    per_bot_second: int | None = PER_BOT
    per_group_minute: int | None = PER_GROUP
    per_private_second: int | None = PER_PRIVATE


TELEGRAM_LIMITS = Limits()
UNLIMITED = Limits(None, None, None)


class Priority(enum.IntEnum):
    """Whose turn comes first when several wait for one window (lower first)."""

    KEEP = 0  # a draft about to vanish from the screen: one request saves what is shown
    MUST = 1  # a message that must arrive, an answer's first text: first come first served


class Window:
    """At most ``count`` turns in any ``period`` seconds (loop time); waiters are served by
    priority, then first come first served."""

    def __init__(self, count: int, period: float, *, keeps_finals: bool = False) -> None:
        self.count = count
        self.period = period
        # A window too long to wait for (a group's minute) keeps a turn for each open answer's
        # final; a private chat's second frees up soon enough.
        self.keeps_finals = keeps_finals
        self._slots: list[Slot] = []
        self._returns = asyncio.Event()  # a request came back: its turn may leave the window
        # Turns queued, each woken with a future to resolve once it has taken its turn: while
        # any waits, nobody may jump the queue.
        self._waiting: list[tuple[int, int, asyncio.Future[asyncio.Future[None]]]] = []
        self._arrivals = itertools.count()
        self._server: asyncio.Task[None] | None = None

    def _room(self, now: float) -> int:
        # The same sum as the server's wake-up time, so that rounding cannot keep a turn in.
        if self._slots and min(slot.end() for slot in self._slots) + self.period <= now:
            self._slots = [slot for slot in self._slots if slot.end() + self.period > now]
        return self.count - len(self._slots)

    def has_room(self, reserve: int = 0) -> bool:
        """Room for one turn now, leaving ``reserve`` free, with nobody waiting."""
        now = asyncio.get_running_loop().time()
        return not self._queued() and self._room(now) > reserve

    def _queued(self) -> bool:
        # A waiter woken but not yet run has its turn too: the server runs until it has taken.
        return bool(self._waiting) or (self._server is not None and not self._server.done())

    def take(self) -> Slot:
        slot = Slot(asyncio.get_running_loop().time())
        self._slots.append(slot)
        return slot

    def back(self, slot: Slot) -> None:
        """The request of ``slot`` came back (answered or refused)."""
        if slot.back is None:
            slot.back = asyncio.get_running_loop().time()
            self._returns.set()

    async def turn(self, priority: Priority = Priority.MUST) -> Slot:
        loop = asyncio.get_running_loop()
        if not self._queued() and self._room(loop.time()) > 0:
            return self.take()
        woken: asyncio.Future[asyncio.Future[None]] = loop.create_future()
        heapq.heappush(self._waiting, (priority, next(self._arrivals), woken))
        if self._server is None or self._server.done():
            self._server = loop.create_task(self._serve())
        try:
            taken = await woken  # a cancelled waiter's future is cancelled: passed by
        except asyncio.CancelledError:
            if woken.done() and not woken.cancelled():
                woken.result().set_result(None)  # woken, then cancelled: the next one's turn
            raise
        # The turn is taken when the waiter runs, not when it is woken: under load the two
        # can be far apart, and the request follows the taking at once.
        slot = self.take()
        taken.set_result(None)
        return slot

    async def _serve(self) -> None:
        """Wake the waiters one at a time, best first, as the window makes room."""
        loop = asyncio.get_running_loop()
        while self._waiting:
            if self._waiting[0][2].done():
                heapq.heappop(self._waiting)
                continue
            if self._room(loop.time()) <= 0:
                # Until the first turn leaves the window, or a request comes back (its turn
                # then leaves a period later): only waiters may take the room meanwhile.
                self._returns.clear()
                first = min(slot.end() for slot in self._slots) + self.period
                with contextlib.suppress(TimeoutError):
                    # At least a millisecond: a timer due in less may fire while the sum above
                    # still rounds to later than now.
                    await asyncio.wait_for(self._returns.wait(), max(first - loop.time(), 1e-3))
                continue
            _, _, woken = heapq.heappop(self._waiting)
            taken = loop.create_future()
            woken.set_result(taken)
            await taken


def forget_flood(client: Any, request_type: type) -> None:
    """Drop Telethon's client-wide memory of a FloodWait on ``request_type``.

    The wait was for one chat, and this adapter keeps it for that chat alone.
    """
    memory = getattr(client, "_flood_waited_requests", None)
    if isinstance(memory, dict):
        memory.pop(getattr(request_type, "CONSTRUCTOR_ID", None), None)


class Turn:
    """The turns one request holds, in the chat's window and the bot's: ``with turn:`` around
    the request, so that its turns count from when it came back."""

    def __init__(self) -> None:
        self._held: list[tuple[Window, Slot]] = []

    def hold(self, window: Window, slot: Slot) -> None:
        self._held.append((window, slot))

    def __enter__(self) -> Turn:
        return self

    def __exit__(self, *exc: object) -> None:
        for window, slot in self._held:
            window.back(slot)


class Pacer:
    """The bot-wide and per-chat windows, each chat's FloodWaits, and the answers open in each
    chat (each owes the chat a final)."""

    def __init__(
        self, limits: Limits = TELEGRAM_LIMITS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._bot = Window(limits.per_bot_second, 1 + _MARGIN) if limits.per_bot_second else None
        self._chats: collections.OrderedDict[int, Window] = collections.OrderedDict()
        self._quiet: dict[tuple[int, type], float] = {}
        # Weak: an answer abandoned without its final (a cancelled request) stops owing.
        self._open: dict[int, weakref.WeakSet[object]] = {}

    # -- FloodWaits ----------------------------------------------------------------------------

    def flooded(self, chat_id: int, kind: type, seconds: float) -> None:
        """Telegram asked this chat to wait ``seconds`` before the next request of ``kind``."""
        key = (chat_id, kind)
        self._quiet[key] = max(self._quiet.get(key, 0.0), self._clock() + seconds)

    def quiet_for(self, chat_id: int, kind: type) -> float:
        """Seconds this chat must still wait before a request of ``kind``; 0 when it may."""
        until = self._quiet.get((chat_id, kind))
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._quiet[(chat_id, kind)]
            return 0.0
        return left

    # -- open answers --------------------------------------------------------------------------

    def opened(self, chat_id: int, answer: object) -> None:
        """``answer`` will end with a final message in this chat."""
        self._open.setdefault(chat_id, weakref.WeakSet()).add(answer)

    def closed(self, chat_id: int, answer: object) -> None:
        """``answer`` owes this chat nothing more."""
        answers = self._open.get(chat_id)
        if answers is not None:
            answers.discard(answer)
            if not answers:
                del self._open[chat_id]

    def _finals_owed(self, chat_id: int) -> int:
        answers = self._open.get(chat_id)
        return 0 if answers is None else len(answers)

    # -- rates ---------------------------------------------------------------------------------

    async def turn(
        self,
        chat_id: int,
        *,
        private: bool,
        chat: bool = True,
        priority: Priority = Priority.MUST,
    ) -> Turn:
        """Wait until a message that must arrive may be written to this chat. ``chat=False``:
        a write that is no message (a draft): only the bot-wide window counts it."""
        turn = Turn()
        window = self._chat(chat_id, private) if chat else None
        if window is not None:
            turn.hold(window, await window.turn(priority))
        if self._bot is not None:
            turn.hold(self._bot, await self._bot.turn(priority))
        return turn

    async def first_turn(self, chat_id: int, *, private: bool, chat: bool = True) -> Turn | None:
        """Wait for a turn for an answer's first text; None (at once) when the chat's window
        must keep its turns for the finals of the answers open in it."""
        turn = Turn()
        window = self._chat(chat_id, private) if chat else None
        if window is not None and window.keeps_finals:
            if not window.has_room(reserve=self._finals_owed(chat_id)):
                return None
            turn.hold(window, window.take())
        elif window is not None:
            turn.hold(window, await window.turn())
        if self._bot is not None:
            turn.hold(self._bot, await self._bot.turn())
        return turn

    def try_turn(
        self, chat_id: int, kind: type, *, private: bool, chat: bool = True
    ) -> Turn | None:
        """Take a turn for an interim update of ``kind`` now, or say no (None) without
        waiting."""
        if self.quiet_for(chat_id, kind):
            return None
        window = self._chat(chat_id, private) if chat else None
        if window is not None:
            reserve = 0
            if window.keeps_finals:
                reserve = self._finals_owed(chat_id) + int(_HEADROOM * window.count)
            if not window.has_room(reserve=reserve):
                return None
        if self._bot is not None and not self._bot.has_room(
            reserve=int(_HEADROOM * self._bot.count)
        ):
            return None
        turn = Turn()
        for held in (self._bot, window):
            if held is not None:
                turn.hold(held, held.take())
        return turn

    def _chat(self, chat_id: int, private: bool) -> Window | None:
        window = self._chats.get(chat_id)
        if window is not None:
            self._chats.move_to_end(chat_id)
            return window
        if private and self.limits.per_private_second:
            window = Window(self.limits.per_private_second, 1.0)
        elif not private and self.limits.per_group_minute:
            window = Window(self.limits.per_group_minute, 60.0, keeps_finals=True)
        else:
            return None
        self._chats[chat_id] = window
        while len(self._chats) > _CHATS_KEPT:
            self._chats.popitem(last=False)
        return window
