"""The ports: everything the core needs from the outside world, as small protocols.

Adapters implement them; the core only ever sees these shapes. Ids are opaque strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Protocol, TypeGuard, runtime_checkable

from core.budget import Entry, Posting
from core.values import (
    AccessList,
    Account,
    Attachment,
    ChatId,
    Chunk,
    DayUsage,
    Hold,
    Link,
    MessageId,
    ModelRequest,
    Node,
    Offer,
    Pack,
    Picture,
    Purchase,
    Totals,
    Transcript,
    UserId,
    VoiceNote,
)


class ChatModel(Protocol):
    """A language model that streams an answer."""

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Yield the answer as it is produced; the last chunk carries the usage.

        Raises a ``core.errors.ModelError`` when no complete answer can be given; an answer
        cut short (no finish reason) is a ``TruncatedAnswer``, never a silent success. Closing
        the iterator early (``aclose``) stops the request.
        """
        ...

    async def close(self) -> None:
        """Release connections; no stream is started afterwards."""
        ...


class Transcriber(Protocol):
    """Speech to text."""

    async def transcribe(
        self, audio: bytes, *, name: str, mime: str | None, language: str | None
    ) -> Transcript:
        """The words spoken in ``audio`` (a file called ``name``, of type ``mime``); the
        person's ``language`` is a hint. Raises a ``core.errors.ModelError`` on failure."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class ImageMaker(Protocol):
    """Pictures from a description."""

    async def make(self, prompt: str) -> Picture:
        """One picture of ``prompt``. Raises a ``core.errors.ModelError`` on failure
        (``ContentFiltered`` when the provider refuses the description)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class Speaker(Protocol):
    """Text to speech."""

    async def speak(self, text: str, *, language: str) -> VoiceNote:
        """``text`` read aloud, as an OGG/Opus voice note whose length was measured from its
        packets; ``language`` (the person's: ``en``, ``ru``) is a hint. Raises a
        ``core.errors.ModelError`` on failure (a server that sends anything but Ogg/Opus audio
        is a ``ModelUnavailable``)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class DocumentReader(Protocol):
    """Files to text."""

    async def read(self, data: bytes, *, name: str | None, mime: str | None) -> str:
        """The text of a file; raises ``core.errors.UnreadableDocument`` when it is not one the
        reader can turn into text."""
        ...


class MediaProbe(Protocol):
    """What media bytes really are, read from their content before anything is held: a name,
    a type or a length the sender declared is their word, not a fact."""

    async def picture(self, data: bytes) -> str | None:
        """The type of the picture ``data`` holds (``image/png``, ``image/jpeg``,
        ``image/webp``, ``image/gif``), checked by a decoder; None when it holds none."""
        ...

    async def recording(self, data: bytes) -> float | None:
        """The seconds of sound ``data`` holds, measured from the data itself; None when it is
        no recording the probe can measure."""
        ...


class AccountStore(Protocol):
    """Accounts, global totals and the tokens held by requests in flight.

    Every change is a read-modify-write of the stored value, atomic and durable when it
    returns; one that raises ``StorageError`` changed nothing, in memory neither.
    """

    async def get(self, user_id: UserId) -> Account | None:
        """The account of ``user_id``, or None for a user never seen."""
        ...

    async def totals(self) -> Totals:
        """The global totals."""
        ...

    async def count(self) -> int:
        """How many accounts are stored."""
        ...

    async def held(self, user_id: UserId) -> int:
        """Tokens held for the user's requests in flight."""
        ...

    async def register(self, account: Account) -> Account:
        """Store ``account`` if its id is new; the stored account either way."""
        ...

    async def hold(self, user_id: UserId, minimum: int, maximum: int) -> Hold | None:
        """Hold as much of ``maximum`` tokens as the balance net of other holds allows, at
        least ``minimum``; None (and nothing held) when even that is not available."""
        ...

    async def release(self, hold: Hold) -> None:
        """Give a hold back: its request failed (one given back already is ignored). Raises
        StorageError when it cannot be given back now; the store then keeps trying by itself
        until it is given back or its lease ends."""
        ...

    async def settle(
        self, user_id: UserId, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        """Apply ``entry`` (a settlement or a refund) to the stored account, add what it counts
        to the totals and to its day's tally (``Posting.day``) and give ``release`` back, in
        one durable step; what it posted (the
        charge), None for an unknown id. Raises StorageError when it cannot be saved: then
        nothing of it remains and ``release`` is still held."""
        ...

    async def change(self, user_id: UserId, change: Callable[[Account], Account]) -> Account | None:
        """Apply ``change`` to the stored account, durably; the new account, None for an
        unknown id. ``change`` must be pure: a store may call it more than once."""
        ...

    async def page(self, offset: int, limit: int) -> Sequence[Account]:
        """At most ``limit`` accounts in the order they were registered, skipping the first
        ``offset`` (the admin's /users)."""
        ...

    async def access(self) -> AccessList:
        """Who may use the bot when it is not open to everyone (an empty list if never set)."""
        ...

    async def change_access(self, change: Callable[[AccessList], AccessList]) -> AccessList:
        """Apply ``change`` to the stored access list, atomically and durably; the new list.
        ``change`` must be pure: a store may call it more than once. Raises StorageError when
        it cannot be saved: then nothing of it remains."""
        ...

    async def credit(self, purchase: Purchase) -> bool:
        """Record ``purchase`` and add its tokens to the payer's balance, in one atomic,
        durable step, unless a purchase with its charge id is recorded already (then nothing
        changes): whether it was new. Raises StorageError when it cannot be saved (nothing of
        it remains) or the payer has no account."""
        ...

    async def take_back(self, charge_id: str, at: dt.datetime) -> bool:
        """Mark the purchase of ``charge_id`` refunded at ``at`` and take its tokens back from
        the payer's balance (which may go below zero), in one atomic, durable step: whether
        this call did it (False: refunded already, or no such charge)."""
        ...

    async def purchase(self, charge_id: str) -> Purchase | None:
        """The purchase of ``charge_id``; None when none is recorded."""
        ...

    async def purchases(self, since: dt.datetime) -> Sequence[Purchase]:
        """The purchases made at or after ``since``, oldest first (the operator's view)."""
        ...

    async def tokens_by_day(self, since: dt.date) -> Mapping[dt.date, int]:
        """The tokens charged on each day from ``since`` on, as ``settle`` tallied them with
        each charge (a refund counts on the day it is made); days without any are left out."""
        ...

    async def close(self) -> None:
        """Write anything pending and release the storage."""
        ...


class Payments(Protocol):
    """A messenger's payments: Telegram Stars. A messenger without payments has none, and the
    bot then offers nothing to buy. What is paid is reported to the core by the messenger
    (``BotService.precheckout`` and ``BotService.pay``)."""

    async def invoice(self, chat_id: ChatId, pack: Pack, title: str, description: str) -> None:
        """Send an invoice for ``pack`` into ``chat_id``. Raises ``DeliveryFailed`` when it
        cannot be sent."""
        ...

    async def refund(self, user_id: UserId, charge_id: str) -> None:
        """Give the payment of ``charge_id`` back to ``user_id``, who made it; one refunded
        already counts as done. Raises ``PaymentFailed`` when it cannot be refunded."""
        ...


class UsageChart(Protocol):
    """Pictures of the operator's view."""

    async def draw(self, days: Sequence[DayUsage], title: str, tokens: str, stars: str) -> Picture:
        """A chart of tokens and Stars per day (``tokens`` and ``stars`` name the two series),
        drawn without holding up the event loop."""
        ...


class ThreadStore(Protocol):
    """The nodes of reply chains."""

    async def get(self, chat_id: ChatId, message_id: MessageId) -> Node | None:
        """The node of this message, or None when the store does not have it."""
        ...

    async def links(self, chat_id: ChatId, message_id: MessageId, limit: int) -> Sequence[Link]:
        """The node of this message, then its parent, the parent's parent and so on in this
        chat, newest first, each as a ``Link``: at most ``limit``, read at once (a walk up a
        reply chain asks for them next). The chain ends before the first node the store does
        not have (empty when it lacks this one) and at a node without a parent. A read that
        fails is logged and ends the chain, like a node not found. Parents that form a cycle
        (damaged data) may repeat nodes up to ``limit``: the walk stops at the first it has
        seen. ``core.threads.chain_of`` gives the same as ``Node`` values.

        A store that can only read one node at a time returns
        ``core.threads.links_by_get(self.get, chat_id, message_id, limit)``.
        """
        ...

    async def add(self, nodes: Sequence[Node]) -> None:
        """Remember these nodes."""
        ...

    async def close(self) -> None:
        """Write anything pending and release the storage."""
        ...


class MessageLookup(Protocol):
    """The platform's own memory: a fallback for nodes the thread store no longer has."""

    async def lookup(self, chat_id: ChatId, message_id: MessageId) -> Node | None:
        """Fetch a message from the platform, or None when it cannot be found."""
        ...


class MediaSource(Protocol):
    """The messenger's media: the bytes behind an ``Attachment``."""

    async def fetch(self, chat_id: ChatId, attachment: Attachment, limit: int) -> bytes:
        """The attachment's bytes, now or later (by ``attachment.ref``). Raises
        ``MediaTooLarge`` when there are more than ``limit`` bytes (before downloading them
        when the size is known), ``MediaUnavailable`` when it can no longer be fetched."""
        ...


class ReplyStream(Protocol):
    """One answer being written: shown as it grows, then finished."""

    @property
    def shown(self) -> bool:
        """Whether any part of this answer has reached the person yet."""
        ...

    async def update(self, text: str) -> None:
        """The whole answer so far (plain text); the adapter decides when to show it.

        Raises ``AnswerStopped`` when the person asked to stop it, ``DeliveryFailed`` when the
        chat cannot be reached."""
        ...

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[MessageId]:
        """Show the final answer (Markdown when ``markdown``); the ids of every message it was
        sent as, in order. ``offer``: a button under it (a messenger without buttons shows its
        command to type). Raises ``DeliveryFailed`` when it cannot be delivered."""
        ...


@runtime_checkable
class ShowsReasoning(Protocol):
    """A ``ReplyStream`` that can show the model's reasoning apart from its answer (live while
    it streams, collapsed in the final). Streams without it simply never see the reasoning."""

    async def reason(self, reasoning: str) -> None:
        """The whole reasoning so far (plain text). Raises like ``ReplyStream.update``."""
        ...


def shows_reasoning(stream: ReplyStream) -> TypeGuard[ShowsReasoning]:
    """Whether ``stream`` is a ``ShowsReasoning``: what ``isinstance`` says of a runtime
    protocol, asked once per answer without its cost (about 10 µs a call on Python 3.11)."""
    return callable(getattr(stream, "reason", None))


class ReplySink(Protocol):
    """How the core talks back to people."""

    async def send(
        self, chat_id: ChatId, text: str, reply_to: MessageId | None = None
    ) -> Sequence[MessageId]:
        """Send a complete plain-text message; the ids of the messages sent."""
        ...

    async def send_picture(
        self, chat_id: ChatId, picture: Picture, caption: str, reply_to: MessageId | None = None
    ) -> Sequence[MessageId]:
        """Send a picture with a short plain-text caption; the ids of the messages sent.
        Raises ``DeliveryFailed`` when it cannot be delivered."""
        ...

    def stream(self, chat_id: ChatId, reply_to: MessageId | None) -> ReplyStream:
        """Start an answer that will be streamed into ``chat_id``."""
        ...

    async def typing(self, chat_id: ChatId) -> None:
        """Show that an answer is being prepared."""
        ...


@runtime_checkable
class VoiceNoteSink(Protocol):
    """A ``ReplySink`` that can also send voice notes. Apart from ``ReplySink`` so that a
    messenger without them needs nothing: the core offers spoken answers only where the sink
    has this method (``/voice on`` is refused plainly elsewhere)."""

    async def send_voice(
        self, chat_id: ChatId, voice: VoiceNote, caption: str, reply_to: MessageId | None = None
    ) -> Sequence[MessageId]:
        """Send ``voice`` as a voice note (with its length and, where the messenger shows one,
        a waveform) and a short plain-text caption; the ids of the messages sent. Raises
        ``DeliveryFailed`` when it cannot be delivered."""
        ...


class Operator(Protocol):
    """Where the bot's admin is reached: each messenger decides."""

    async def notify(self, text: str) -> None:
        """Tell the admin something. May fail: the core calls it in the background only."""
        ...


class TokenCounter(Protocol):
    """Counts how many tokens a text costs."""

    def count(self, text: str) -> int:
        """Tokens in ``text``: exact with the model's own tokenizer; otherwise an estimate,
        which a calibrating counter corrects from what the server reports."""
        ...


class Clock(Protocol):
    """The time, so that tests never read the wall clock."""

    def now(self) -> dt.datetime:
        """The current local time."""
        ...
