"""Talking back: a text of the user's language, to the right chat, replying to the right message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import attrs

from core.ports import ReplySink
from core.texts import choose_language, text
from core.values import Incoming, MessageId, Sender

log = logging.getLogger(__name__)


@attrs.define
class Replies:
    sink: ReplySink
    default_language: str
    # Whether notices reach the admin: only then do texts say "the admin has been told".
    admin_reached: Callable[[], bool] = lambda: True

    def language(self, incoming: Incoming) -> str:
        return choose_language(incoming.sender.language, self.default_language)

    def text(self, incoming: Incoming, key: str, **values: object) -> str:
        language = self.language(incoming)
        told = text(language, "admin_told") if self.admin_reached() else ""
        return text(language, key, told=told, **values)

    async def say(self, incoming: Incoming, key: str, **values: object) -> Sequence[MessageId]:
        return await self.send(incoming, self.text(incoming, key, **values))

    async def send(self, incoming: Incoming, message: str) -> Sequence[MessageId]:
        return await self.sink.send(incoming.chat_id, message, reply_to(incoming))


async def best_effort(saying: Awaitable[object]) -> None:
    """Send a message that must not turn a handled situation into a failure (news of a
    failure): if it cannot be sent, the log is all there is."""
    try:
        await saying
    except Exception as exc:
        log.error("could not tell about a failure: %r", exc)


def reply_to(incoming: Incoming) -> MessageId | None:
    """What an answer replies to: in groups the message it answers; in private chats nothing,
    unless the messenger's custom is to reply there too."""
    return None if incoming.private and not incoming.replies_in_private else incoming.message_id


def who(sender: Sender) -> str:
    """A user as the admin sees them: name, @username and id."""
    parts = [sender.name or "?"]
    if sender.username:
        parts.append("@" + sender.username.lstrip("@"))
    parts.append(f"({sender.id})")
    return " ".join(parts)
