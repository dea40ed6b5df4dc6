"""Access: who may use the bot when the settings restrict it.

The bot is open to everyone unless the settings name people or chats (``allowed_users``,
``allowed_chats``). Then it serves only the admin, the people on the access list and everyone
in a chat on it; the list lives in the store, seeded from the settings (``AccessList.seeded``)
and changed by the admin's /allow and /disallow. Anyone else is a stranger: no account, no
model call, no charge. A stranger is told once a day, in a private chat only (a group is not
told about each passer-by), how to ask for access, and the admin is told about each stranger
once, merged with the other notices. Both memories last as long as the process.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypeVar

import attrs

from core.parts import Parts
from core.replies import who
from core.values import AccessList, ChatId, Incoming, Sender, UserId, access_key

log = logging.getLogger(__name__)

REFUSE_AGAIN_AFTER = dt.timedelta(days=1)
MAX_REMEMBERED = 10_000  # strangers remembered; the oldest are forgotten first


@attrs.define
class Gate:
    parts: Parts
    _seeded: bool = attrs.field(default=False, init=False)
    _refused: dict[UserId, dt.datetime] = attrs.field(factory=dict, init=False)
    _told: dict[UserId, None] = attrs.field(factory=dict, init=False)  # an ordered set

    @property
    def restricted(self) -> bool:
        config = self.parts.config
        return bool(config.allowed_users or config.allowed_chats)

    async def current(self) -> AccessList:
        """The stored list, with the settings' changes applied once per process."""
        if self._seeded:
            return await self.parts.accounts.access()
        config = self.parts.config
        users = frozenset(access_key(entry) for entry in config.allowed_users)
        chats = frozenset(access_key(entry) for entry in config.allowed_chats)
        access = await self.parts.accounts.change_access(lambda a: a.seeded(users, chats))
        self._seeded = True
        return access

    async def allows(self, sender: Sender, chat_id: ChatId) -> bool:
        """Whether ``sender`` may use the bot in ``chat_id``; nobody is told anything."""
        if not self.restricted or sender.id == self.parts.config.admin_id:
            return True
        return (await self.current()).allows(sender, chat_id)

    async def admits(self, incoming: Incoming) -> bool:
        """Whether ``incoming`` may be served; a stranger is refused here (see the module)."""
        sender = incoming.sender
        if not self.restricted or sender.id == self.parts.config.admin_id:
            return True
        if (await self.current()).allows(sender, incoming.chat_id):
            return True
        log.info("refused stranger %s in chat %s", sender.id, incoming.chat_id)
        if sender.id not in self._told:
            _remember(self._told, sender.id, None)
            self.parts.notices.stranger(who(sender))
        if incoming.private:
            now = self.parts.clock.now()
            last = self._refused.get(sender.id)
            if last is None or not last <= now < last + REFUSE_AGAIN_AFTER:
                _remember(self._refused, sender.id, now)
                await self.parts.replies.say(incoming, "stranger", id=sender.id)
        return False

    async def allow(self, entry: str, *, chat: bool = False) -> AccessList:
        await self.current()
        return await self.parts.accounts.change_access(lambda a: a.allowing(entry, chat=chat))

    async def disallow(self, entry: str) -> AccessList:
        await self.current()
        return await self.parts.accounts.change_access(lambda a: a.disallowing(entry))


V = TypeVar("V")


def _remember(memory: dict[UserId, V], key: UserId, value: V) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > MAX_REMEMBERED:
        del memory[next(iter(memory))]
