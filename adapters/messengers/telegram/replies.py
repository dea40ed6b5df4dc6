"""The core's ``ReplySink``, ``MessageLookup`` and ``MediaSource`` on Telegram: Telegram numbers
chats and messages, the core's ids are text, and this is the one place that turns one into the
other."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import TelegramStream
from core.values import Attachment, Node, Offer, Picture, VoiceNote


class TelegramReplies:
    def __init__(self, sink: TelegramSink) -> None:
        self.sink = sink

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> list[str]:
        return _text(await self.sink.send(int(chat_id), text, _number(reply_to)))

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> list[str]:
        return _text(
            await self.sink.send_picture(int(chat_id), picture, caption, _number(reply_to))
        )

    async def send_voice(
        self, chat_id: str, voice: VoiceNote, caption: str, reply_to: str | None = None
    ) -> list[str]:
        return _text(await self.sink.send_voice(int(chat_id), voice, caption, _number(reply_to)))

    async def fetch(self, chat_id: str, attachment: Attachment, limit: int) -> bytes:
        return await self.sink.media.fetch(int(chat_id), attachment, limit)

    def stream(self, chat_id: str, reply_to: str | None) -> Answer:
        return Answer(self.sink.stream(int(chat_id), _number(reply_to)))

    async def typing(self, chat_id: str) -> None:
        await self.sink.typing(int(chat_id))

    async def lookup(self, chat_id: str, message_id: str) -> Node | None:
        return await self.sink.lookup(int(chat_id), int(message_id))


class Answer:
    """A ``TelegramStream`` as the core's ``ReplyStream``."""

    def __init__(self, stream: TelegramStream) -> None:
        self._stream = stream

    @property
    def shown(self) -> bool:
        return self._stream.shown

    async def update(self, text: str) -> None:
        await self._stream.update(text)

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> list[str]:
        return _text(await self._stream.finish(text, markdown=markdown, offer=offer))


def _number(message_id: str | None) -> int | None:
    return None if message_id is None else int(message_id)


def _text(ids: Sequence[int]) -> list[str]:
    return [str(i) for i in ids]
