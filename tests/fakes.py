"""Small working fakes of the ports the adapters cannot provide in a unit test."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence

import attrs

from core import budget
from core.budget import Posting
from core.errors import (
    AnswerStopped,
    DeliveryFailed,
    MediaTooLarge,
    MediaUnavailable,
    ModelError,
    StorageError,
    UnreadableDocument,
)
from core.ports import AccountStore
from core.values import (
    AccessList,
    Account,
    Attachment,
    Chunk,
    Hold,
    ModelRequest,
    Offer,
    Picture,
    Source,
    Totals,
    Transcript,
    Usage,
    VoiceNote,
)
from tests.media import png_bytes, png_size


@attrs.define
class Sent:
    chat_id: str
    text: str
    reply_to: str | None
    message_ids: tuple[str, ...]
    updates: list[str] = attrs.field(factory=list)
    streamed: bool = False
    markdown: bool = False
    picture: Picture | None = None
    voice: VoiceNote | None = None
    offer: Offer | None = None  # the button under it


@attrs.define
class RecordingSink:
    """A messenger that keeps every message it was asked to send, in order."""

    sent: list[Sent] = attrs.field(factory=list)
    typing_in: list[str] = attrs.field(factory=list)
    parts: int = 1  # how many messages each streamed answer is split into
    voice_fails: Exception | None = None  # raised by every send_voice
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1000))

    def new_ids(self, count: int) -> tuple[str, ...]:
        return tuple(str(next(self._ids)) for _ in range(count))

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        ids = self.new_ids(1)
        self.sent.append(Sent(chat_id, text, reply_to, ids))
        return ids

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        ids = self.new_ids(1)
        self.sent.append(Sent(chat_id, caption, reply_to, ids, picture=picture))
        return ids

    async def send_voice(
        self, chat_id: str, voice: VoiceNote, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        if self.voice_fails is not None:
            raise self.voice_fails
        ids = self.new_ids(1)
        self.sent.append(Sent(chat_id, caption, reply_to, ids, voice=voice))
        return ids

    def stream(self, chat_id: str, reply_to: str | None) -> RecordingStream:
        return RecordingStream(self, chat_id, reply_to)

    def voices(self) -> list[Sent]:
        return [s for s in self.sent if s.voice is not None]

    def pictures(self) -> list[Picture]:
        return [s.picture for s in self.sent if s.picture is not None]

    async def typing(self, chat_id: str) -> None:
        self.typing_in.append(chat_id)

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]


@attrs.define
class RecordingStream:
    sink: RecordingSink
    chat_id: str
    reply_to: str | None
    updates: list[str] = attrs.field(factory=list)

    @property
    def shown(self) -> bool:
        return bool(self.updates)

    async def update(self, text: str) -> None:
        self.updates.append(text)

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        ids = self.sink.new_ids(self.sink.parts)
        self.sink.sent.append(
            Sent(self.chat_id, text, self.reply_to, ids, self.updates, True, markdown, offer=offer)
        )
        return ids


@attrs.define
class RecordingOperator:
    """The admin, as a list of the notices they got."""

    notices: list[str] = attrs.field(factory=list)

    async def notify(self, text: str) -> None:
        self.notices.append(text)


@attrs.define
class UnreachableOperator:
    """An admin who cannot be reached (blocked the bot, say)."""

    tries: int = 0

    async def notify(self, text: str) -> None:
        self.tries += 1
        raise DeliveryFailed("the admin blocked the bot")


@attrs.define
class ScriptedModel:
    """A model that answers from a script: text pieces, a usage, or an error to raise.

    ``gate``, when set, holds every answer until it is opened, so tests can keep requests in
    flight at the same time.
    """

    pieces: tuple[str, ...] = ("Hello", ", ", "world")
    usage: Usage | None = attrs.field(factory=lambda: Usage(10, 5))
    fail_with: list[ModelError] = attrs.field(factory=list)  # raised by the next calls, in order
    fail_after_text: bool = False
    gate: asyncio.Event | None = None
    delay: float = 0.0  # seconds before the answer (real time: for overlap tests)
    cut_off: bool = False  # the answer stopped at the reply cap
    sources: tuple[Source, ...] = ()  # the pages the answer cites, with the usage
    requests: list[ModelRequest] = attrs.field(factory=list)
    closed_streams: int = 0  # streams stopped before their end
    finished_streams: int = 0
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)  # set when a request has begun

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.fail_with.pop(0) if self.fail_with else None
        if error is not None and not self.fail_after_text:
            raise error
        try:
            for piece in self.pieces:
                yield Chunk(text=piece)
            if error is not None:
                raise error
            if self.usage is not None or self.cut_off:
                yield Chunk(usage=self.usage, cut_off=self.cut_off, sources=self.sources)
            self.finished_streams += 1
        except GeneratorExit:
            self.closed_streams += 1
            raise

    async def close(self) -> None:
        return None


@attrs.define
class FailingDisk:
    """An account store whose writes fail while ``broken`` (a full or read-only disk): the
    working store underneath is left unchanged, as the port demands. A change is computed
    before it fails, as a real store computes it before writing (a ``Settlement`` then says
    what it would have charged). ``heals_after``: the disk works again after that many failed
    writes (space was freed); None: it stays broken."""

    inner: AccountStore
    broken: bool = True
    heals_after: int | None = None
    # A database gone rather than a disk: giving a hold back fails too (the hold stays).
    releases_fail: bool = False

    def _fail(self) -> StorageError:
        if self.heals_after is not None:
            self.heals_after -= 1
            self.broken = self.heals_after > 0
        return StorageError("disk full")

    async def get(self, user_id: str) -> Account | None:
        return await self.inner.get(user_id)

    async def totals(self) -> Totals:
        return await self.inner.totals()

    async def count(self) -> int:
        return await self.inner.count()

    async def held(self, user_id: str) -> int:
        return await self.inner.held(user_id)

    async def register(self, account: Account) -> Account:
        if self.broken and await self.inner.get(account.user_id) is None:
            raise self._fail()
        return await self.inner.register(account)

    async def hold(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        return await self.inner.hold(user_id, minimum, maximum)

    async def release(self, hold: Hold) -> None:
        if self.broken and self.releases_fail:
            raise StorageError("database gone")
        await self.inner.release(hold)

    async def settle(
        self, user_id: str, entry: budget.Entry, release: Hold | None = None
    ) -> Posting | None:
        if self.broken:
            current = await self.inner.get(user_id)
            if current is not None:
                entry.post(current)  # computed as a real store would, then not saved
            raise self._fail()
        return await self.inner.settle(user_id, entry, release)

    async def change(self, user_id: str, change: Callable[[Account], Account]) -> Account | None:
        if self.broken:
            current = await self.inner.get(user_id)
            if current is not None:
                change(current)
            raise self._fail()
        return await self.inner.change(user_id, change)

    async def page(self, offset: int, limit: int) -> Sequence[Account]:
        return await self.inner.page(offset, limit)

    async def access(self) -> AccessList:
        return await self.inner.access()

    async def change_access(self, change: Callable[[AccessList], AccessList]) -> AccessList:
        if self.broken:
            raise self._fail()
        return await self.inner.change_access(change)

    async def close(self) -> None:
        if self.broken:
            raise StorageError("disk full")


@attrs.define
class BrokenMessenger:
    """A messenger whose every call fails, as when the network to it is gone."""

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        raise ConnectionError("messenger unreachable")

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        raise ConnectionError("messenger unreachable")

    def stream(self, chat_id: str, reply_to: str | None) -> RecordingStream:
        raise ConnectionError("messenger unreachable")

    async def typing(self, chat_id: str) -> None:
        raise ConnectionError("messenger unreachable")


@attrs.define
class FinishFails:
    """A messenger that streams, but whose final message fails with ``error``."""

    inner: RecordingSink
    error: Exception = attrs.field(factory=lambda: ConnectionError("the edit did not go through"))

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        return await self.inner.send(chat_id, text, reply_to)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        return await self.inner.send_picture(chat_id, picture, caption, reply_to)

    def stream(self, chat_id: str, reply_to: str | None) -> _FailingStream:
        return _FailingStream(self.error)

    async def typing(self, chat_id: str) -> None:
        return None


@attrs.define
class _FailingStream:
    error: Exception
    updates: int = 0

    @property
    def shown(self) -> bool:
        return self.updates > 0

    async def update(self, text: str) -> None:
        self.updates += 1

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        raise self.error


@attrs.define
class GoneChat:
    """A chat that blocked the bot: ``after`` updates go through, then everything fails with
    DeliveryFailed (``after`` 0: "typing" too, unless ``typing_works``)."""

    inner: RecordingSink
    after: int = 0
    typing_works: bool = False  # "typing" goes through: the block is seen only on a write
    streams: list[_GoneStream] = attrs.field(factory=list)

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        raise DeliveryFailed("USER_IS_BLOCKED")

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        raise DeliveryFailed("USER_IS_BLOCKED")

    def stream(self, chat_id: str, reply_to: str | None) -> _GoneStream:
        stream = _GoneStream(self.after)
        self.streams.append(stream)
        return stream

    async def typing(self, chat_id: str) -> None:
        if self.after == 0 and not self.typing_works:
            raise DeliveryFailed("USER_IS_BLOCKED")


@attrs.define
class _GoneStream:
    after: int
    updates: list[str] = attrs.field(factory=list)
    finished: bool = False

    @property
    def shown(self) -> bool:
        return bool(self.updates)

    async def update(self, text: str) -> None:
        if len(self.updates) >= self.after:
            raise DeliveryFailed("USER_IS_BLOCKED")
        self.updates.append(text)

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        raise DeliveryFailed("USER_IS_BLOCKED")


@attrs.define
class StoppingSink:
    """A messenger where the person presses stop after ``after`` updates of an answer."""

    inner: RecordingSink
    after: int = 1

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        return await self.inner.send(chat_id, text, reply_to)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        return await self.inner.send_picture(chat_id, picture, caption, reply_to)

    def stream(self, chat_id: str, reply_to: str | None) -> _StoppedStream:
        return _StoppedStream(self.inner.stream(chat_id, reply_to), self.after)

    async def typing(self, chat_id: str) -> None:
        return None


@attrs.define
class _StoppedStream:
    inner: RecordingStream
    after: int

    @property
    def shown(self) -> bool:
        return self.inner.shown

    async def update(self, text: str) -> None:
        if len(self.inner.updates) >= self.after:
            raise AnswerStopped("stop pressed")
        await self.inner.update(text)

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        return await self.inner.finish(text, markdown=markdown, offer=offer)


@attrs.define
class MemoryMedia:
    """A messenger's media: bytes by reference, as a ``MediaSource``. A reference missing from
    ``files`` is media the messenger lost (a deleted message)."""

    files: dict[str, bytes] = attrs.field(factory=dict)
    fetched: list[str] = attrs.field(factory=list)

    async def fetch(self, chat_id: str, attachment: Attachment, limit: int) -> bytes:
        if attachment.size is not None and attachment.size > limit:
            raise MediaTooLarge(f"{attachment.size} bytes")
        data = self.files.get(attachment.ref)
        if data is None:
            raise MediaUnavailable(f"no media {attachment.ref}")
        if len(data) > limit:
            raise MediaTooLarge(f"{len(data)} bytes")
        self.fetched.append(attachment.ref)
        return data


@attrs.define
class ScriptedTranscriber:
    """A transcriber that hears ``text`` (or fails with the next of ``fail_with``)."""

    text: str = "what is the capital of France"
    seconds: float | None = None
    fail_with: list[ModelError] = attrs.field(factory=list)
    heard: list[tuple[bytes, str, str | None]] = attrs.field(factory=list)
    gate: asyncio.Event | None = None  # when set, every transcription waits for it to open
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)  # set when one has begun

    async def transcribe(
        self, audio: bytes, *, name: str, mime: str | None, language: str | None
    ) -> Transcript:
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.heard.append((audio, name, language))
        return Transcript(self.text, self.seconds)

    async def close(self) -> None:
        return None


@attrs.define
class ScriptedImageMaker:
    """An image maker that draws a tiny fixed PNG (or fails with the next of ``fail_with``)."""

    fail_with: list[ModelError] = attrs.field(factory=list)
    prompts: list[str] = attrs.field(factory=list)
    gate: asyncio.Event | None = None  # when set, every picture waits for it to open
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)  # set when one has begun

    async def make(self, prompt: str) -> Picture:
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.prompts.append(prompt)
        return Picture(PNG_1x1, "image/png")

    async def close(self) -> None:
        return None


@attrs.define
class ScriptedSpeaker:
    """A speaker whose voice note is the text's bytes, a second per ten characters (or that
    fails with the next of ``fail_with``)."""

    fail_with: list[ModelError] = attrs.field(factory=list)
    spoken: list[tuple[str, str]] = attrs.field(factory=list)  # (text, language)

    async def speak(self, text: str, *, language: str) -> VoiceNote:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.spoken.append((text, language))
        return VoiceNote(b"OggS" + text.encode(), len(text) / 10)

    async def close(self) -> None:
        return None


@attrs.define
class Utf8Documents:
    """Reads UTF-8 text files; anything else is not text."""

    async def read(self, data: bytes, *, name: str | None, mime: str | None) -> str:
        if name is not None and name.endswith(".exe"):
            raise UnreadableDocument("unsupported", name)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableDocument("not_text", str(exc)) from exc


@attrs.define
class KnownMedia:
    """A ``MediaProbe`` that knows PNG pictures (by their header and its CRC) and the
    recordings in ``recordings`` (their bytes and their length in seconds); anything else is
    not media."""

    recordings: dict[bytes, float] = attrs.field(factory=dict)
    probed: list[bytes] = attrs.field(factory=list)

    async def picture(self, data: bytes) -> str | None:
        self.probed.append(data)
        try:
            png_size(data)
        except ValueError:
            return None
        return "image/png"

    async def recording(self, data: bytes) -> float | None:
        self.probed.append(data)
        return self.recordings.get(data)


PNG_1x1 = png_bytes(1, 1)  # a valid PNG of one pixel


@attrs.frozen
class Spend:
    """A settlement of ``tokens``, as the core makes one: the balance debited, the request and
    its tokens counted in the account and in the totals."""

    tokens: int

    def post(self, current: Account) -> Posting:
        account = attrs.evolve(
            current,
            balance=current.balance - self.tokens,
            tokens=current.tokens + self.tokens,
            requests=current.requests + 1,
        )
        return Posting(account, Totals(requests=1, tokens=self.tokens), self.tokens)


@attrs.frozen
class Entry:
    """Any change of an account posted as money is: ``counted`` added to the totals."""

    change: Callable[[Account], Account]
    counted: Totals = attrs.field(factory=Totals)

    def post(self, current: Account) -> Posting:
        return Posting(self.change(current), self.counted, 0)
