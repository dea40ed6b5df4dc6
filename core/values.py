"""Plain domain values, shared by the core and the ports.

Identities (users, chats, messages) are opaque strings: the core compares and stores them, never
does arithmetic on them nor assumes a platform's format. They hold no whitespace (an admin types
them after a command: ``/topup <user id> <tokens>``), and a message id is unique in its chat.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TypeAlias

import attrs

UserId: TypeAlias = str
ChatId: TypeAlias = str
MessageId: TypeAlias = str


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MediaKind(StrEnum):
    VOICE = "voice"  # speech to transcribe: a voice note or an audio file
    IMAGE = "image"  # a picture a vision-capable model may see
    DOCUMENT = "document"  # a file read into the turn as text


@attrs.frozen
class Attachment:
    """Media that came with a message, as the messenger describes it before any download.

    ``ref`` is the messenger's own reference, opaque to the core: enough for its
    ``MediaSource`` to fetch the bytes again later (a thread remembers a picture by it, not by
    its bytes). The other fields are what the messenger knows up front, None when it does not.
    """

    kind: MediaKind
    ref: str
    mime: str | None = None
    name: str | None = None  # the file's name
    size: int | None = None  # bytes
    duration: float | None = None  # seconds of speech
    width: int | None = None  # pixels
    height: int | None = None


@attrs.frozen
class Image:
    """A picture's bytes as the model receives them."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    mime: str


@attrs.frozen
class Turn:
    """One message of the conversation sent to the model.

    ``attachments`` are the pictures the turn refers to; ``images`` their bytes, fetched just
    before the request (a model that cannot see gets none)."""

    role: Role
    text: str
    attachments: tuple[Attachment, ...] = ()
    images: tuple[Image, ...] = ()


@attrs.frozen
class Usage:
    """Tokens a model call used: as the model reported them, or an estimate (``estimated``)
    when the server did not say."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False
    cached_tokens: int = 0  # input tokens served from the provider's cache: part of prompt_tokens
    reasoning_tokens: int = 0  # tokens the model thought in: part of completion_tokens
    searches: int = 0  # web searches the model ran (the provider bills each call)

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class ModelRequest:
    """What the core asks of the chat model: the turns (system first) and the reply cap;
    ``conversation`` names the thread (its root), so a provider can cache its shared prefix;
    ``searches`` is how many web searches a model that offers the tool may run (0: none);
    ``temperature`` None leaves the model's own default (a mode may set one)."""

    turns: tuple[Turn, ...]
    max_tokens: int
    conversation: str | None = None
    searches: int = 0
    temperature: float | None = None


@attrs.frozen
class Source:
    """A page the answer cites (a web search's result)."""

    url: str
    title: str = ""


@attrs.frozen
class Chunk:
    """A piece of a streamed answer: some text, or some of the model's reasoning (a summary
    of its thinking, not part of the answer); at the end the usage, the sources the answer
    cites, and whether the answer stopped because it reached the reply cap (``cut_off``)
    rather than because it was done."""

    text: str = ""
    usage: Usage | None = None
    cut_off: bool = False
    reasoning: str = ""
    sources: tuple[Source, ...] = ()


@attrs.frozen
class Sender:
    """Who wrote an incoming message, as the platform tells it."""

    id: UserId
    name: str | None = None
    username: str | None = None
    language: str | None = None


@attrs.frozen
class Incoming:
    """A message meant for the bot, reduced to what the core needs.

    The messenger adapter decides whether a message addresses the bot (its name, a command
    for it, a reply to it, its group rules) and hands over only those, with the platform's
    addressing removed from ``text``: a command arrives as ``/name argument``.
    """

    chat_id: ChatId
    message_id: MessageId
    sender: Sender
    text: str
    reply_to: MessageId | None = None
    private: bool = True
    attachments: tuple[Attachment, ...] = ()  # voice, pictures, files sent with the message
    # Whether answers in a private chat reply to the message too (the messenger's custom:
    # Telegram's do not, Matrix's do); in groups they always do.
    replies_in_private: bool = False


@attrs.frozen
class Node:
    """A message the bot acted on or sent: one link of a reply chain.

    ``role`` None marks a message that is no turn of the conversation (an error the bot
    reported): a walk passes through it to its parent.
    """

    chat_id: ChatId
    message_id: MessageId
    role: Role | None
    text: str
    parent: MessageId | None = None
    attachments: tuple[Attachment, ...] = ()  # the pictures of this turn (IMAGE only)

    @property
    def link(self) -> Link:
        return (self.message_id, self.role, self.text, self.parent, self.attachments)


# A node as a thread store hands it to a walk up a reply chain: its message id, role, text,
# parent and attachments, in ``Node``'s order (its chat is the one asked). A plain tuple: a
# deep walk reads thousands, and a value object for each cost as much as reading it.
Link: TypeAlias = tuple[MessageId, Role | None, str, MessageId | None, tuple[Attachment, ...]]


@attrs.frozen
class Account:
    """One user's record: balance, statistics and their own system prompt."""

    user_id: UserId
    balance: int
    requests: int = 0
    tokens: int = 0
    name: str | None = None
    username: str | None = None
    last_request: dt.datetime | None = None
    prompt: str | None = None
    banned: bool = False  # the older bot's "blacklist": true
    model: str | None = None  # the model the person chose (``lang_model``); None: the default
    allowance: int | None = None  # the admin's /allowance for this person; None: the setting's
    refilled: str | None = None  # the allowance period last refilled (``core.allowances``)
    voice: bool = False  # answers are also sent as voice notes (/voice on)
    search: bool = False  # /search on: answers may search the web (where the model offers it)
    mode: str | None = None  # the /mode chosen (``core.modes``); None: the default

    @classmethod
    def new(cls, sender: Sender, balance: int) -> Account:
        return cls(
            user_id=sender.id,
            balance=balance,
            name=sender.name,
            username=sender.username,
        )


def access_key(who: str) -> str:
    """How an access list writes a person or a chat: an id as it is, a username as ``@name`` in
    lower case (usernames compare without case and with or without the ``@``)."""
    who = who.strip()
    return "@" + who.lstrip("@").lower() if who.startswith("@") else who


@attrs.frozen
class AccessList:
    """Who may use the bot when it is not open to everyone: people (ids or ``@usernames``) and
    chats where everyone may. ``seeded_*`` are the entries the settings last put in, so that a
    change of the settings is applied as a change (an entry the settings drop goes, one the
    admin removed stays removed while the settings still name it)."""

    users: frozenset[str] = frozenset()
    chats: frozenset[str] = frozenset()
    seeded_users: frozenset[str] = frozenset()
    seeded_chats: frozenset[str] = frozenset()

    def allows(self, sender: Sender, chat_id: ChatId) -> bool:
        if sender.id in self.users or chat_id in self.chats:
            return True
        # An entry written with "@" compares without case: a username, or a messenger's id
        # that starts with "@".
        if sender.id.startswith("@") and access_key(sender.id) in self.users:
            return True
        return bool(sender.username) and access_key("@" + str(sender.username)) in self.users

    def seeded(self, users: frozenset[str], chats: frozenset[str]) -> AccessList:
        """The list after the settings name ``users`` and ``chats``, where before they named
        ``seeded_*``: what they added is added, what they dropped is removed."""
        return AccessList(
            users=(self.users - (self.seeded_users - users)) | (users - self.seeded_users),
            chats=(self.chats - (self.seeded_chats - chats)) | (chats - self.seeded_chats),
            seeded_users=users,
            seeded_chats=chats,
        )

    def allowing(self, who: str, *, chat: bool = False) -> AccessList:
        if chat:
            return attrs.evolve(self, chats=self.chats | {access_key(who)})
        return attrs.evolve(self, users=self.users | {access_key(who)})

    def disallowing(self, who: str) -> AccessList:
        """Without ``who``, as a person and as a chat."""
        key = access_key(who)
        return attrs.evolve(self, users=self.users - {key}, chats=self.chats - {key})


@attrs.frozen
class Totals:
    """Global statistics over all users."""

    requests: int = 0
    tokens: int = 0

    def plus(self, counted: Totals) -> Totals:
        """These totals with ``counted`` added (a refund counts negative), never below zero."""
        return Totals(
            requests=max(self.requests + counted.requests, 0),
            tokens=max(self.tokens + counted.tokens, 0),
        )


@attrs.frozen
class Hold:
    """Tokens held from a balance for one request in flight."""

    user_id: UserId
    amount: int
    id: str


@attrs.frozen
class Transcript:
    """What a transcriber heard; ``seconds`` is the audio's length when the server said it."""

    text: str
    seconds: float | None = None


@attrs.frozen
class Offer:
    """A button under a message that sends ``command`` for whoever presses it (``/retry 42``);
    a messenger without buttons shows the command to type instead."""

    label: str
    command: str


@attrs.frozen
class Picture:
    """A picture the bot made, to be sent."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    mime: str = "image/png"


@attrs.frozen
class VoiceNote:
    """Speech the bot made, to be sent: OGG/Opus, and its length measured from its packets."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    seconds: float


@attrs.frozen
class Pack:
    """Tokens offered for a number of Stars (``STAR_PACKS``)."""

    stars: int
    tokens: int

    @property
    def payload(self) -> str:
        """What an invoice carries back with its payment: the pack itself, so that a payment
        for a pack offered before the settings changed still credits what it promised."""
        return f"{self.stars}:{self.tokens}"

    @classmethod
    def from_payload(cls, payload: str) -> Pack | None:
        stars, _, tokens = payload.partition(":")
        if not (stars.isascii() and stars.isdigit() and tokens.isascii() and tokens.isdigit()):
            return None
        if not (0 < len(stars) <= 9 and 0 < len(tokens) <= 12):
            return None
        pack = cls(int(stars), int(tokens))
        return pack if pack.stars > 0 and pack.tokens > 0 else None


@attrs.frozen
class Payment:
    """A successful payment as the messenger reports it: ``charge_id`` is the payment
    system's own id of the charge, unique and the same however often it is reported."""

    charge_id: str
    chat_id: ChatId
    sender: Sender
    payload: str
    stars: int


@attrs.frozen
class Purchase:
    """Tokens bought: credited once per charge, and taken back once if refunded. Times are
    the clock's (local, like ``Account.last_request``)."""

    charge_id: str
    user_id: UserId
    stars: int
    tokens: int
    at: dt.datetime
    refunded_at: dt.datetime | None = None


@attrs.frozen
class DayUsage:
    """One day of the operator's view: the tokens charged and the Stars paid (not refunded)."""

    day: dt.date
    tokens: int
    stars: int
