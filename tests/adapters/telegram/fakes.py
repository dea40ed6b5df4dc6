"""A real ``TelegramClient`` with only its MTProto sender's ``send`` replaced by a fake Telegram.

Everything above the sender is Telethon's own code: ``__call__`` and ``_call`` (resolving
entities, the client-wide FloodWait memory ``_flood_waited_requests``, wrapping requests in
``InvokeWithoutUpdates``), matching a sent message to its id through ``UpdateMessageID``,
building events from updates.
The fake answers with real ``telethon.tl.types`` values and raises real ``telethon.errors``,
and checks what real Telegram checks: the length limit and the bounds of every entity.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from telethon import TelegramClient, errors, helpers, utils
from telethon.sessions import MemorySession
from telethon.tl import functions, types

from adapters.telegram.text import LIMIT, units

DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BOT = types.User(
    id=4242, is_self=True, bot=True, access_hash=11, first_name="GPT", username="ThisBot"
)
ALICE = types.User(
    id=100,
    access_hash=21,
    first_name="Alice",
    last_name="Liddell",
    username="alice",
    lang_code="ru",
)
BOB = types.User(id=200, access_hash=22, first_name="Bob")
OTHER_BOT = types.User(id=300, access_hash=23, bot=True, first_name="Other", username="OtherBot")
GROUP = types.Channel(
    id=777,
    title="Group",
    photo=types.ChatPhotoEmpty(),
    date=DATE,
    megagroup=True,
    access_hash=31,
)
GROUP_ID = -1000000000777  # Telethon's marked id of GROUP
BASIC = types.Chat(
    id=55, title="Basic", photo=types.ChatPhotoEmpty(), participants_count=3, date=DATE, version=1
)
BASIC_ID = -55


@attrs.define
class Failure:
    """The next ``times`` requests matching ``when`` raise what ``error`` makes of them."""

    when: Callable[[Any], bool]
    error: Callable[[Any], BaseException]
    times: int = 1


class FakeTelegram(TelegramClient):  # type: ignore[misc]  # Telethon is untyped: its classes are Any
    """A client logged in as BOT, talking to an in-memory Telegram."""

    def __init__(self, limit: int = LIMIT, latency: float = 0.0) -> None:
        # receive_updates stays on, as in the bot: off, Telethon would wrap each request in
        # InvokeWithoutUpdates and key its flood memory by the wrapper, hiding what it does.
        super().__init__(MemorySession(), 1, "0" * 32)
        self._sender.send = self._send_over_network  # the one replaced piece
        self.latency = latency  # seconds each request takes on the "network"
        self._mb_entity_cache.set_self_user(BOT.id, True, BOT.access_hash)
        self._users: dict[int, types.User] = {}  # sent along with updates, as Telegram does
        self._chats: dict[int, Any] = {}
        self.know(BOT, ALICE, BOB, OTHER_BOT, GROUP, BASIC)
        self.limit = limit
        self.requests: list[Any] = []
        self.times: list[float] = []  # when each request reached "Telegram" (loop time)
        self.failures: list[Failure] = []
        self.stored: dict[tuple[int, int], types.Message] = {}
        self._ids = itertools.count(1000)
        self._pts = itertools.count(1)

    # -- setting the scene ---------------------------------------------------------------------

    def know(self, *entities: Any) -> None:
        """Let Telethon resolve these users and chats offline, as after seeing their updates."""
        users = [e for e in entities if isinstance(e, types.User)]
        chats = [e for e in entities if not isinstance(e, types.User)]
        self._mb_entity_cache.extend(users, chats)
        self._users.update((u.id, u) for u in users)
        self._chats.update((c.id, c) for c in chats)

    def fail(
        self,
        request_type: type,
        error: Callable[[Any], BaseException],
        *,
        when: Callable[[Any], bool] = lambda request: True,
        times: int = 1,
    ) -> None:
        def matches(request: Any) -> bool:
            return isinstance(request, request_type) and when(request)

        self.failures.append(Failure(matches, error, times))

    def store(self, message: types.Message) -> types.Message:
        self.stored[(utils.get_peer_id(message.peer_id), message.id)] = message
        return message

    # -- what the bot did ----------------------------------------------------------------------

    def of(self, request_type: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, request_type)]

    def sent(self) -> list[Any]:
        return self.of(functions.messages.SendMessageRequest)

    def edits(self) -> list[Any]:
        return self.of(functions.messages.EditMessageRequest)

    def shown(self, chat_id: int) -> list[types.Message]:
        """The bot's messages in a chat as they stand now, oldest first."""
        return [m for (chat, _), m in sorted(self.stored.items()) if chat == chat_id and m.out]

    # -- incoming updates ----------------------------------------------------------------------

    async def receive(self, message: types.Message) -> None:
        """Hand ``message`` to Telethon's update dispatch, as its update loop would."""
        if isinstance(message.peer_id, types.PeerChannel):
            update = types.UpdateNewChannelMessage(message, next(self._pts), 1)
        else:
            update = types.UpdateNewMessage(message, next(self._pts), 1)
        await self.receive_update(update)

    async def receive_update(self, update: Any) -> None:
        """Hand any update to Telethon's dispatch (a stop press on a draft, say)."""
        users, chats = list(self._users.values()), list(self._chats.values())
        [prepared] = await self._preprocess_updates([update], users, chats)
        await self._dispatch_update(prepared)

    async def receive_all(self, messages: Iterable[types.Message]) -> None:
        """Dispatch each message in its own task, in order: Telethon's default (not sequential)."""
        await asyncio.gather(*(asyncio.create_task(self.receive(m)) for m in messages))

    # -- the network ---------------------------------------------------------------------------

    def _send_over_network(self, request: Any, ordered: bool = False) -> Any:
        # MTProtoSender.send's shape: a future of the answer (a list of them for a list of
        # requests), raising the RPC error.
        if isinstance(request, list):
            return [asyncio.ensure_future(self._telegram(r)) for r in request]
        return asyncio.ensure_future(self._telegram(request))

    async def _telegram(self, request: Any) -> Any:
        if isinstance(request, functions.InvokeWithoutUpdatesRequest):
            request = request.query  # Telethon wraps requests when not receiving updates
        self.requests.append(request)
        self.times.append(asyncio.get_running_loop().time())
        if self.latency:
            await asyncio.sleep(self.latency)
        for failure in self.failures:
            if failure.times > 0 and failure.when(request):
                failure.times -= 1
                raise failure.error(request)
        if isinstance(request, functions.messages.SendMessageRequest):
            return self._send(request)
        if isinstance(request, functions.messages.EditMessageRequest):
            return self._edit(request)
        if isinstance(
            request, (functions.messages.GetMessagesRequest, functions.channels.GetMessagesRequest)
        ):
            return self._get(request)
        if isinstance(request, functions.users.GetUsersRequest):
            return [self._user(wanted) for wanted in request.id]
        if isinstance(request, functions.channels.GetChannelsRequest):
            raise errors.ChannelInvalidError(request)
        if isinstance(
            request, (functions.messages.SetTypingRequest, functions.bots.SetBotCommandsRequest)
        ):
            return True
        if isinstance(request, functions.channels.DeleteMessagesRequest):
            chat = utils.get_peer_id(request.channel)
            return self._delete([(chat, i) for i in request.id])
        if isinstance(request, functions.messages.DeleteMessagesRequest):
            return self._delete([key for key in self.stored if key[1] in request.id])
        raise NotImplementedError(f"the fake Telegram does not answer {type(request).__name__}")

    def _delete(self, keys: list[tuple[int, int]]) -> types.messages.AffectedMessages:
        for key in keys:
            self.stored.pop(key, None)
        return types.messages.AffectedMessages(pts=next(self._pts), pts_count=len(keys))

    def _user(self, wanted: Any) -> Any:
        if isinstance(wanted, types.InputUserSelf):
            return BOT
        known = {u.id: u for u in (BOT, ALICE, BOB, OTHER_BOT)}
        return known.get(wanted.user_id, types.UserEmpty(id=wanted.user_id))

    def _check(self, request: Any) -> None:
        text = request.message
        if not text.strip():
            raise errors.MessageEmptyError(request)
        if units(text) > self.limit:
            raise errors.MessageTooLongError(request)
        for entity in request.entities or ():
            if (
                entity.offset < 0
                or entity.length <= 0
                or entity.offset + entity.length > units(text)
            ):
                raise errors.EntityBoundsInvalidError(request)

    def _send(self, request: Any) -> types.Updates:
        self._check(request)
        peer = utils.get_peer(request.peer)
        reply = request.reply_to
        message = self.store(
            types.Message(
                id=next(self._ids),
                peer_id=peer,
                date=DATE,
                message=request.message,
                out=True,
                from_id=types.PeerUser(BOT.id),
                entities=request.entities,
                reply_to=None
                if reply is None
                else types.MessageReplyHeader(reply_to_msg_id=reply.reply_to_msg_id),
            )
        )
        return types.Updates(
            updates=[
                types.UpdateMessageID(id=message.id, random_id=request.random_id),
                self._new_update(message),
            ],
            users=[BOT],
            chats=[GROUP, BASIC],
            date=DATE,
            seq=0,
        )

    def _edit(self, request: Any) -> types.Updates:
        chat = utils.get_peer_id(request.peer)
        message = self.stored.get((chat, request.id))
        if message is None:
            raise errors.MessageIdInvalidError(request)
        self._check(request)
        entities = list(request.entities or [])
        if message.message == request.message and _same(message.entities or [], entities):
            raise errors.MessageNotModifiedError(request)
        message.message = request.message
        message.entities = entities
        message.edit_date = DATE
        if isinstance(message.peer_id, types.PeerChannel):
            update: Any = types.UpdateEditChannelMessage(message, next(self._pts), 1)
        else:
            update = types.UpdateEditMessage(message, next(self._pts), 1)
        return types.Updates(updates=[update], users=[BOT], chats=[GROUP, BASIC], date=DATE, seq=0)

    def _get(self, request: Any) -> Any:
        if isinstance(request, functions.channels.GetMessagesRequest):
            chat = utils.get_peer_id(request.channel)
        else:
            chat = None  # private chats and basic groups share one id space of messages
        found: list[Any] = []
        for wanted in request.id:
            matches = [
                m
                for (c, i), m in self.stored.items()
                if i == wanted.id and (chat is None or c == chat)
            ]
            found.append(matches[0] if matches else types.MessageEmpty(id=wanted.id, peer_id=None))
        users = [BOT, ALICE, BOB, OTHER_BOT]
        if chat is None:
            return types.messages.Messages(
                messages=found, topics=[], chats=[GROUP, BASIC], users=users
            )
        return types.messages.ChannelMessages(
            pts=1, count=len(found), messages=found, topics=[], chats=[GROUP], users=users
        )

    def _new_update(self, message: types.Message) -> Any:
        if isinstance(message.peer_id, types.PeerChannel):
            return types.UpdateNewChannelMessage(message, next(self._pts), 1)
        return types.UpdateNewMessage(message, next(self._pts), 1)


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return [e.to_dict() for e in a] == [e.to_dict() for e in b]


def entity_texts(text: str, entities: Sequence[Any]) -> list[tuple[str, str]]:
    """(kind, covered text) for each entity, sliced in UTF-16 units the way Telegram does."""
    surrogated = helpers.add_surrogate(text)
    return [
        (
            type(e).__name__.removeprefix("MessageEntity"),
            helpers.del_surrogate(surrogated[e.offset : e.offset + e.length]),
        )
        for e in entities
    ]


def incoming(  # a message as Telegram would push it to the bot
    text: str = "",
    *,
    chat: Any = None,
    sender: types.User = ALICE,
    message_id: int = 1,
    entities: Sequence[Any] | None = None,
    reply_to: int | None = None,
    mentioned: bool | None = None,
    media: Any = None,
    out: bool | None = None,
    header: Any = None,
    from_peer: Any = None,
) -> types.Message:
    peer: Any
    if chat is None:
        peer = types.PeerUser(sender.id)
    elif isinstance(chat, types.User):  # the private chat with this user
        peer = types.PeerUser(chat.id)
    elif isinstance(chat, types.Channel):
        peer = types.PeerChannel(chat.id)
    else:
        peer = types.PeerChat(chat.id)
    if header is None and reply_to is not None:
        header = types.MessageReplyHeader(reply_to_msg_id=reply_to)
    return types.Message(
        id=message_id,
        peer_id=peer,
        date=DATE,
        message=text,
        out=out,
        mentioned=mentioned,
        from_id=from_peer or types.PeerUser(sender.id),
        entities=list(entities) if entities is not None else None,
        reply_to=header,
        media=media,
    )


@attrs.define
class Ticker:
    """A monotonic clock that moves only when told to, or when someone sleeps on it."""

    now: float = 1000.0
    sleeps: list[float] = attrs.field(factory=list)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
