"""Notices to the bot's admin: in the background, coalesced, one at a time, best-effort.

A notice never delays a user's answer: ``post`` only queues. While one notice is being
delivered, the ones that arrive wait and then go out together in one message ("5 new users:
..."), so a flood of new users costs the admin's chat a few messages, not one each. A notice
that cannot be delivered is logged and dropped.

Failures (``FAILURES``) are told once per kind and minute: a full disk fails every save, and
the admin needs to hear it once a minute with a count, not 151 times for 80 messages. A failure
only the admin can mend by changing a setting and restarting (a rejected key, an unknown
model) is told once per run and service (``model_failed``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import attrs

from core import errors
from core.ports import Clock, Operator
from core.texts import text

log = logging.getLogger(__name__)

MAX_LISTED = 20  # new users named in one message; the rest are counted
ALERT_WINDOW = dt.timedelta(minutes=1)  # one notice per kind of failure in this time
# The texts that tell of a failure, each a kind told at most once per ALERT_WINDOW.
FAILURES = frozenset({"admin_storage", "admin_not_delivered"})


@attrs.define
class _Window:
    """The notices of one kind of failure: when the last one went out, how many since."""

    opened: dt.datetime
    more: int = 0


@attrs.define
class Notices:
    operator: Operator | None
    language: str
    clock: Clock
    # In order of arrival: a ready text, or a person to be named with others of their kind.
    _queue: list[str | _NewUser] = attrs.field(factory=list, init=False)
    _task: asyncio.Task[None] | None = attrs.field(default=None, init=False)
    dropped: int = attrs.field(default=0, init=False)
    _alerted: set[tuple[type[errors.ModelError], str]] = attrs.field(factory=set, init=False)
    _windows: dict[str, _Window] = attrs.field(factory=dict, init=False)

    @property
    def reach_admin(self) -> bool:
        """Whether notices go anywhere: "the admin has been told" is said only then."""
        return self.operator is not None

    def post(self, key: str, **values: object) -> None:
        """Queue the text ``key`` for the admin (a failure of ``FAILURES``: coalesced)."""
        if key in FAILURES:
            self._alert(key, **values)
        else:
            self.post_text(text(self.language, key, **values))

    def post_text(self, message: str) -> None:
        """Queue a ready-made text for the admin."""
        self._queue.append(message)
        self._wake()

    def _alert(self, key: str, **values: object) -> None:
        """Tell the admin of a failure (the text ``key``): the first of its kind in a minute
        at once, the others of that minute counted, and the count told with the next one."""
        now = self.clock.now()
        window = self._windows.get(key)
        if window is not None and now - window.opened < ALERT_WINDOW:
            window.more += 1
            return
        message = text(self.language, key, **values)
        if window is not None and window.more:
            since = window.opened.strftime("%H:%M:%S")
            message += text(self.language, "admin_repeated", count=window.more, since=since)
        self._windows[key] = _Window(now)
        self.post_text(message)

    def model_failed(self, exc: errors.ModelError, service: str = "answers") -> None:
        """Tell the admin of a model failure only they can mend (a rejected key, an unknown
        model) in ``service`` ("answers", "voice", "image": each has its own settings), with
        the server's words: once per kind and run, not on every message."""
        found = errors.alert(exc)
        if found is None or (found[0], service) in self._alerted:
            return
        kind, key = found
        self._alerted.add((kind, service))
        self.post(f"{key}_{service}", detail=str(exc) or type(exc).__name__)

    def new_user(self, who: str) -> None:
        """Queue "new user: who", to be merged with others that arrive meanwhile."""
        self._queue.append(_NewUser(who))
        self._wake()

    def stranger(self, who: str) -> None:
        """Queue "who asked to use the bot", merged with other strangers that arrive meanwhile."""
        self._queue.append(_NewUser(who, "admin_stranger", "admin_strangers"))
        self._wake()

    async def flush(self) -> None:
        """Wait until everything queued has been delivered or dropped."""
        while self._task is not None:
            await asyncio.shield(self._task)

    def _wake(self) -> None:
        if self.operator is None:
            self._queue.clear()
            return
        if self._task is None:
            self._task = asyncio.create_task(self._deliver())

    async def _deliver(self) -> None:
        assert self.operator is not None
        try:
            while self._queue:
                message = self._next()
                try:
                    await self.operator.notify(message)
                except Exception as exc:
                    self.dropped += 1
                    log.error("could not notify the admin (%r); dropped: %s", exc, message)
        finally:
            self._task = None

    def _next(self) -> str:
        first = self._queue.pop(0)
        if isinstance(first, str):
            return first
        # Every person of the same kind waiting goes out in this one message.
        same = [
            item for item in self._queue if isinstance(item, _NewUser) and item.one == first.one
        ]
        users = [first.who] + [item.who for item in same]
        taken = {id(item) for item in same}
        self._queue = [item for item in self._queue if id(item) not in taken]
        if len(users) == 1:
            return text(self.language, first.one, who=users[0])
        listed = "\n".join(users[:MAX_LISTED])
        if len(users) > MAX_LISTED:
            listed += "\n" + text(self.language, "admin_more", count=len(users) - MAX_LISTED)
        return text(self.language, first.many, count=len(users), who="\n" + listed)


@attrs.frozen
class _NewUser:
    who: str
    one: str = "admin_new_user"  # the text for one person of this kind
    many: str = "admin_new_users"  # the text for several
