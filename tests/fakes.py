"""Small working fakes of the ports the adapters cannot provide in a unit test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import attrs

from adapters.storage.memory import MemoryAccountStore
from core.errors import ModelError, StorageError
from core.values import Account, Chunk, ModelRequest, Totals, Usage


@attrs.define
class Sent:
    chat_id: int
    text: str
    reply_to: int | None
    message_ids: tuple[int, ...]
    updates: list[str] = attrs.field(factory=list)
    streamed: bool = False
    markdown: bool = False


@attrs.define
class RecordingSink:
    """A messenger that keeps every message it was asked to send, in order."""

    sent: list[Sent] = attrs.field(factory=list)
    typing_in: list[int] = attrs.field(factory=list)
    parts: int = 1  # how many messages each streamed answer is split into
    _next_id: int = 1000

    def _ids(self, count: int) -> tuple[int, ...]:
        ids = tuple(range(self._next_id, self._next_id + count))
        self._next_id += count
        return ids

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        ids = self._ids(1)
        self.sent.append(Sent(chat_id, text, reply_to, ids))
        return ids

    def stream(self, chat_id: int, reply_to: int | None) -> RecordingStream:
        return RecordingStream(self, chat_id, reply_to)

    async def typing(self, chat_id: int) -> None:
        self.typing_in.append(chat_id)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]


@attrs.define
class RecordingStream:
    sink: RecordingSink
    chat_id: int
    reply_to: int | None
    updates: list[str] = attrs.field(factory=list)

    async def update(self, text: str) -> None:
        self.updates.append(text)

    async def finish(self, text: str, *, markdown: bool = True) -> Sequence[int]:
        ids = self.sink._ids(self.sink.parts)
        self.sink.sent.append(
            Sent(self.chat_id, text, self.reply_to, ids, self.updates, True, markdown)
        )
        return ids


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
    cut_off: bool = False  # the answer stopped at the reply cap
    requests: list[ModelRequest] = attrs.field(factory=list)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        error = self.fail_with.pop(0) if self.fail_with else None
        if error is not None and not self.fail_after_text:
            raise error
        for piece in self.pieces:
            yield Chunk(text=piece)
        if error is not None:
            raise error
        if self.usage is not None or self.cut_off:
            yield Chunk(usage=self.usage, cut_off=self.cut_off)


@attrs.define
class BrokenDisk:
    """An account store whose every save fails, as on a full or read-only disk."""

    inner: MemoryAccountStore

    def get(self, user_id: int) -> Account | None:
        return self.inner.get(user_id)

    def totals(self) -> Totals:
        return self.inner.totals()

    def accounts(self) -> int:
        return self.inner.accounts()

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        raise StorageError("disk full")

    async def close(self) -> None:
        raise StorageError("disk full")


@attrs.define
class BrokenMessenger:
    """A messenger whose every call fails, as when the network to it is gone."""

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        raise ConnectionError("messenger unreachable")

    def stream(self, chat_id: int, reply_to: int | None) -> RecordingStream:
        raise ConnectionError("messenger unreachable")

    async def typing(self, chat_id: int) -> None:
        raise ConnectionError("messenger unreachable")


@attrs.define
class FinishFails:
    """A messenger that streams, but whose final edit of an answer fails."""

    inner: RecordingSink

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        return await self.inner.send(chat_id, text, reply_to)

    def stream(self, chat_id: int, reply_to: int | None) -> _FailingStream:
        return _FailingStream()

    async def typing(self, chat_id: int) -> None:
        return None


@attrs.define
class _FailingStream:
    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str, *, markdown: bool = True) -> Sequence[int]:
        raise ConnectionError("the edit did not go through")


@attrs.define
class AdminUnreachable:
    """A messenger that cannot reach one chat (the admin blocked the bot, say)."""

    inner: RecordingSink
    chat_id: int

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        if chat_id == self.chat_id:
            raise ConnectionError("the admin blocked the bot")
        return await self.inner.send(chat_id, text, reply_to)

    def stream(self, chat_id: int, reply_to: int | None) -> RecordingStream:
        return self.inner.stream(chat_id, reply_to)

    async def typing(self, chat_id: int) -> None:
        return None
