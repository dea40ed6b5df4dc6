"""A real ``TelegramClient`` with only its MTProto sender's ``send`` replaced by a fake Telegram.

Everything above the sender is Telethon's own code: ``__call__`` and ``_call`` (resolving
entities, the client-wide FloodWait memory ``_flood_waited_requests``, wrapping requests in
``InvokeWithoutUpdates``), matching a sent message to its id through ``UpdateMessageID``,
building events from updates.
The fake answers with real ``telethon.tl.types`` values and raises real ``telethon.errors``,
and checks what real Telegram checks: the length limit and the bounds of every entity.

Media are real too: ``voice``, ``document`` and ``photo`` make the ``MessageMedia*`` objects a
client would receive for given bytes, and the fake serves them to Telethon's download path
(``upload.getFile``, in parts, with Telegram's rules for offset and limit and its file
references, which ``renew_references`` makes old). Pictures the bot sends are uploaded in parts
(``upload.saveFilePart``) and sent with ``messages.sendMedia``; they can be downloaded again.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import json
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from telethon import TelegramClient, errors, helpers, utils
from telethon.sessions import MemorySession
from telethon.tl import functions, types

from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.text import LIMIT, units
from tests.adapters.messengers.telegram import fake_rich

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
DC = 2  # the data centre of the bot's session and of every file: no exported senders
CAPTION_LIMIT = 1024
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")
# A sticker is a WEBP picture to Telegram; to the bot it is a reaction, not a picture to read.
STICKER = types.MessageMediaDocument(
    document=types.Document(
        id=9,
        access_hash=9,
        file_reference=b"sticker",
        date=DATE,
        mime_type="image/webp",
        size=20_000,
        dc_id=DC,
        attributes=[
            types.DocumentAttributeImageSize(512, 512),
            types.DocumentAttributeSticker(alt="😀", stickerset=types.InputStickerSetEmpty()),
            types.DocumentAttributeFilename("sticker.webp"),
        ],
    )
)


@attrs.define
class StoredFile:
    """A file on the fake Telegram: its bytes by size type ("" for a document's own)."""

    parts: dict[str, bytes]
    access_hash: int
    reference: bytes


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
        self.session.set_dc(DC, "127.0.0.1", 443)
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
        # The Markdown of the messages shown as rich messages, by (chat, id).
        self.rich: dict[tuple[int, int], str] = {}
        self._ids = itertools.count(1000)
        self._pts = itertools.count(1)
        self.files: dict[int, StoredFile] = {}
        self.uploads: dict[int, dict[int, bytes]] = {}  # file id -> part number -> bytes
        self._file_ids = itertools.count(5000)
        self.invoices: list[types.InputMediaInvoice] = []  # the invoices sent, in order
        self.checkouts: dict[int, Any] = {}  # pre-checkout answers, by query id
        self.refunded: list[str] = []  # charge ids refunded

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

    # -- media ---------------------------------------------------------------------------------

    def voice(
        self,
        data: bytes,
        *,
        duration: int,
        mime: str = "audio/ogg",
        voice: bool = True,
        name: str | None = None,
    ) -> types.MessageMediaDocument:
        """A voice note (``voice``) or an audio file of ``data``."""
        attributes: list[Any] = [types.DocumentAttributeAudio(duration=duration, voice=voice)]
        if name is not None:
            attributes.append(types.DocumentAttributeFilename(name))
        return types.MessageMediaDocument(
            document=self._document(data, mime, attributes), voice=voice
        )

    def document(
        self, data: bytes, name: str, mime: str, *extra: Any
    ) -> types.MessageMediaDocument:
        """A file sent as a file (``extra``: more attributes, an image size say)."""
        attributes = [types.DocumentAttributeFilename(name), *extra]
        return types.MessageMediaDocument(document=self._document(data, mime, attributes))

    def photo(
        self, data: bytes, width: int, height: int, *, progressive: bool = False
    ) -> types.MessageMediaPhoto:
        """A photo whose largest size is ``data``; the smaller sizes are other bytes. With
        ``progressive`` the largest is a ``PhotoSizeProgressive``, as current clients send."""
        return types.MessageMediaPhoto(photo=self._photo(data, width, height, progressive))

    def renew_references(self) -> None:
        """Telegram renews file references now and then: the old ones stop working, and a
        message fetched again carries the new one."""
        for file in self.files.values():
            file.reference = file.reference + b"+"
        for key, message in self.stored.items():
            media = copy.copy(message.media)
            if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
                media.photo = copy.copy(media.photo)
                media.photo.file_reference = self.files[media.photo.id].reference
            elif isinstance(media, types.MessageMediaDocument) and isinstance(
                media.document, types.Document
            ):
                media.document = copy.copy(media.document)
                media.document.file_reference = self.files[media.document.id].reference
            else:
                continue
            renewed = copy.copy(message)
            renewed.media = media
            self.stored[key] = renewed

    def _document(self, data: bytes, mime: str, attributes: list[Any]) -> types.Document:
        file = self._file({"": data})
        return types.Document(
            id=file,
            access_hash=self.files[file].access_hash,
            file_reference=self.files[file].reference,
            date=DATE,
            mime_type=mime,
            size=len(data),
            dc_id=DC,
            attributes=attributes,
        )

    def _photo(
        self, data: bytes, width: int, height: int, progressive: bool = False
    ) -> types.Photo:
        small = b"a smaller size of the same photo"
        file = self._file({"m": small, "y" if progressive else "x": data})
        largest: Any = (
            types.PhotoSizeProgressive("y", width, height, [len(data) // 2, len(data)])
            if progressive
            else types.PhotoSize("x", width, height, len(data))
        )
        return types.Photo(
            id=file,
            access_hash=self.files[file].access_hash,
            file_reference=self.files[file].reference,
            date=DATE,
            sizes=[
                types.PhotoStrippedSize("i", b"\x01\x02\x03"),
                types.PhotoSize("m", max(1, width // 4), max(1, height // 4), len(small)),
                largest,
            ],
            dc_id=DC,
        )

    def _file(self, parts: dict[str, bytes]) -> int:
        file = next(self._file_ids)
        self.files[file] = StoredFile(parts, access_hash=file * 7, reference=b"ref-%d" % file)
        return file

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

    async def press(self, message: types.Message, sender: types.User = ALICE) -> None:
        """``sender`` presses the first button under ``message``, as Telegram reports it."""
        [row] = message.reply_markup.rows
        update = types.UpdateBotCallbackQuery(
            query_id=next(self._ids),
            user_id=sender.id,
            peer=message.peer_id,
            msg_id=message.id,
            chat_instance=0,
            data=row.buttons[0].type.data,
        )
        await self.receive_update(update)

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
        if isinstance(request, functions.messages.SendMediaRequest):
            return self._send_media(request)
        if isinstance(request, functions.messages.SetBotPrecheckoutResultsRequest):
            self.checkouts[request.query_id] = request
            return True
        if isinstance(request, functions.payments.RefundStarsChargeRequest):
            return self._refund(request)
        if isinstance(request, functions.upload.GetFileRequest):
            return self._get_file(request)
        if isinstance(
            request, (functions.upload.SaveFilePartRequest, functions.upload.SaveBigFilePartRequest)
        ):
            self.uploads.setdefault(request.file_id, {})[request.file_part] = request.bytes
            return True
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
            request,
            (
                functions.messages.SetTypingRequest,
                functions.bots.SetBotCommandsRequest,
                functions.messages.SetBotCallbackAnswerRequest,
            ),
        ):
            rich_message = getattr(getattr(request, "action", None), "rich_message", None)
            if rich_message is not None:
                fake_rich.check(rich_message, request)  # a rich draft has the same limits
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
        if request.rich_message is not None:
            request.message = fake_rich.check(request.rich_message, request)
            updates = self._post(request)
            chat = utils.get_peer_id(utils.get_peer(request.peer))
            self.rich[(chat, updates.updates[0].id)] = request.message
            return updates
        self._check(request)
        return self._post(request)

    def _post(self, request: Any, media: Any = None) -> types.Updates:
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
                media=media,
                reply_markup=getattr(request, "reply_markup", None),
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

    def _send_media(self, request: Any) -> types.Updates:
        uploaded = request.media
        if isinstance(uploaded, types.InputMediaInvoice):
            return self._post(request, self._invoice(request, uploaded))
        if not isinstance(
            uploaded, types.InputMediaUploadedPhoto | types.InputMediaUploadedDocument
        ):
            raise NotImplementedError(f"the fake Telegram takes uploaded files, not {uploaded!r}")
        if units(request.message) > CAPTION_LIMIT:
            raise errors.MediaCaptionTooLongError(request)
        parts = self.uploads.get(uploaded.file.id, {})
        if sorted(parts) != list(range(uploaded.file.parts)):
            raise errors.FilePartsInvalidError(request)
        data = b"".join(parts[i] for i in range(uploaded.file.parts))
        if isinstance(uploaded, types.InputMediaUploadedDocument):
            # A voice note is a document whose audio attribute says so.
            voice = any(getattr(a, "voice", False) for a in uploaded.attributes)
            document = self._document(data, uploaded.mime_type, uploaded.attributes)
            return self._post(request, types.MessageMediaDocument(voice=voice, document=document))
        if not data.startswith(_IMAGE_MAGIC):
            raise errors.ImageProcessFailedError(request)
        width, height = _dimensions(data)
        return self._post(request, types.MessageMediaPhoto(photo=self._photo(data, width, height)))

    def _invoice(self, request: Any, invoice: types.InputMediaInvoice) -> Any:
        """What Telegram checks of a Stars invoice: no provider, provider data a JSON object,
        one price in whole Stars, a payload of at most 128 bytes."""
        prices = invoice.invoice.prices
        if (
            invoice.invoice.currency != "XTR"
            or invoice.provider
            or len(prices) != 1
            or prices[0].amount <= 0
            or not isinstance(json.loads(invoice.provider_data.data), dict)
        ):
            raise errors.rpcbaseerrors.BadRequestError(request, "INVOICE_INVALID")
        if not 0 < len(invoice.payload) <= 128:
            raise errors.rpcbaseerrors.BadRequestError(request, "INVOICE_PAYLOAD_INVALID")
        self.invoices.append(invoice)
        return types.MessageMediaInvoice(
            title=invoice.title,
            description=invoice.description,
            currency="XTR",
            total_amount=prices[0].amount,
            start_param="",
        )

    def payment(
        self, invoice: types.InputMediaInvoice, charge_id: str, payer: types.User = ALICE
    ) -> types.UpdateNewMessage:
        """The service message Telegram sends the bot once ``payer`` paid ``invoice``."""
        message = types.MessageService(
            id=next(self._ids),
            peer_id=types.PeerUser(payer.id),
            from_id=types.PeerUser(payer.id),
            date=DATE,
            action=types.MessageActionPaymentSentMe(
                currency="XTR",
                total_amount=invoice.invoice.prices[0].amount,
                payload=invoice.payload,
                charge=types.PaymentCharge(id=charge_id, provider_charge_id=""),
            ),
        )
        return types.UpdateNewMessage(message, next(self._pts), 1)

    def precheckout(
        self, invoice: types.InputMediaInvoice, query_id: int, payer: types.User = ALICE
    ) -> types.UpdateBotPrecheckoutQuery:
        return types.UpdateBotPrecheckoutQuery(
            query_id=query_id,
            user_id=payer.id,
            payload=invoice.payload,
            currency="XTR",
            total_amount=invoice.invoice.prices[0].amount,
        )

    def _refund(self, request: Any) -> Any:
        user = request.user_id
        if not isinstance(user, types.InputUser) or user.user_id not in self._users:
            raise errors.rpcbaseerrors.BadRequestError(request, "USER_ID_INVALID")
        if request.charge_id in self.refunded:
            raise errors.rpcbaseerrors.BadRequestError(request, "CHARGE_ALREADY_REFUNDED")
        self.refunded.append(request.charge_id)
        return types.Updates(updates=[], users=[], chats=[], date=DATE, seq=0)

    def _get_file(self, request: Any) -> types.upload.File:
        location = request.location
        if not isinstance(
            location, (types.InputDocumentFileLocation, types.InputPhotoFileLocation)
        ):
            raise NotImplementedError(f"the fake Telegram serves no {type(location).__name__}")
        file = self.files.get(location.id)
        if file is None or file.access_hash != location.access_hash:
            raise errors.FileIdInvalidError(request)
        if location.file_reference != file.reference:
            raise errors.FileReferenceExpiredError(request)
        data = file.parts.get(location.thumb_size)
        if data is None:
            raise errors.LocationInvalidError(request)
        # Telegram's rules for a part: a limit that divides 1 MiB in 4 KiB steps, an offset in
        # 4 KiB steps, and no part across a 1 MiB boundary.
        limit, offset = request.limit, request.offset
        if limit <= 0 or limit % 4096 or (1 << 20) % limit:
            raise errors.LimitInvalidError(request)
        if offset < 0 or offset % 4096 or offset >> 20 != (offset + limit - 1) >> 20:
            raise errors.OffsetInvalidError(request)
        return types.upload.File(
            type=types.storage.FileUnknown(), mtime=0, bytes=data[offset : offset + limit]
        )

    def _edit(self, request: Any) -> types.Updates:
        chat = utils.get_peer_id(request.peer)
        message = self.stored.get((chat, request.id))
        if message is None:
            raise errors.MessageIdInvalidError(request)
        if request.rich_message is not None:
            request.message = fake_rich.check(request.rich_message, request)
            self.rich[(chat, request.id)] = request.message
        else:
            self.rich.pop((chat, request.id), None)
            self._check(request)
        entities = list(request.entities or [])
        if message.message == request.message and _same(message.entities or [], entities):
            raise errors.MessageNotModifiedError(request)
        message.message = request.message
        message.entities = entities
        message.reply_markup = request.reply_markup  # an edit without one removes the buttons
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


def _dimensions(data: bytes) -> tuple[int, int]:
    if data.startswith(b"\x89PNG"):
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 512, 512  # not read from other formats: no test looks at them


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


async def until(condition: Callable[[], object], what: str = "a condition") -> None:
    """Wait until ``condition()`` holds, polling; the deadline only stops a hang (a loaded
    machine is slow, and a test must not fail for that)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def unpaced_sink(tg: FakeTelegram, ticker: Ticker, **options: Any) -> TelegramSink:
    """A sink on ``tg`` sending entities, with no rate limits and ``ticker``'s time: for tests
    of what is sent, not when (pacing has tests of its own, on virtual time)."""
    return TelegramSink(
        tg,
        message_format=MessageFormat.ENTITIES,
        limits=UNLIMITED,
        clock=ticker,
        sleep=ticker.sleep,
        **options,
    )
