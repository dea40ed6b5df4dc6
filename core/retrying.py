"""/retry: answer a person's last message in a chat again.

The core remembers, per chat and person, the last message it set out to answer, as answering
saw it: its text after transcription or reading a file (so a retry neither transcribes nor
charges the recording again), its pictures, and what it replied to. The memory is the process's
own and bounded: after a restart, or once many other conversations pushed it out, /retry says
it has nothing to answer again and asks for the message. The answer again is a new request,
charged like any other, in the same thread, replying to the same message.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable

import attrs

from core.replies import Replies
from core.values import Account, Attachment, ChatId, Incoming, UserId

REMEMBERED = 10_000  # conversations whose last message is kept; the least recent forgotten
# The answering use case: a message answered, True when it was answered and charged.
Answer = Callable[[Incoming, Account, str, tuple[Attachment, ...]], Awaitable[bool]]


@attrs.frozen
class LastMessage:
    incoming: Incoming
    text: str  # as answering received it
    pictures: tuple[Attachment, ...] = ()


@attrs.define
class LastMessages:
    """The last message of each (chat, person), the least recently used forgotten first."""

    size: int = REMEMBERED
    _last: collections.OrderedDict[tuple[ChatId, UserId], LastMessage] = attrs.field(
        factory=collections.OrderedDict, init=False
    )

    def remember(self, incoming: Incoming, text: str, pictures: tuple[Attachment, ...]) -> None:
        key = (incoming.chat_id, incoming.sender.id)
        self._last[key] = LastMessage(incoming, text, pictures)
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)

    def of(self, chat_id: ChatId, user_id: UserId) -> LastMessage | None:
        return self._last.get((chat_id, user_id))


@attrs.define
class Retrier:
    """The /retry command: the message ``last`` remembers, given to ``answer`` again."""

    replies: Replies
    last: LastMessages
    answer: Answer

    async def retry(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/retry``: the last message again; ``/retry <message id>`` (a button's): only when
        that is still the last one, so an old button never answers a newer message."""
        last = self.last.of(incoming.chat_id, incoming.sender.id)
        if last is None:
            await self.replies.say(incoming, "retry_nothing")
            return
        if argument and argument != last.incoming.message_id:
            await self.replies.say(incoming, "retry_not_last")
            return
        # The answer replies to the message it answers again, in private chats too: the person
        # sees which one it is.
        again = attrs.evolve(last.incoming, replies_in_private=True)
        await self.answer(again, account, last.text, last.pictures)
