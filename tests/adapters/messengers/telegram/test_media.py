"""Fetching the bytes behind an attachment on the fake Telegram, through Telethon's own download
path (``download_media`` asking ``upload.getFile`` for parts): the first fetch from the
message just received, later ones by asking for the message again; sizes refused before any
download, gone messages and files, FloodWaits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from core.errors import MediaTooLarge, MediaUnavailable
from core.ports import MediaSource, MessageLookup
from core.values import Attachment, Incoming, MediaKind
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    GROUP,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    incoming,
)
from tests.adapters.messengers.telegram.media_bytes import png_bytes, silent_ogg

GetFile = functions.upload.GetFileRequest
GetMessages = (functions.messages.GetMessagesRequest, functions.channels.GetMessagesRequest)
MB = 1 << 20


@attrs.define
class Scene:
    tg: FakeTelegram
    replies: MediaSource  # TelegramReplies, as the core sees it
    ticker: Ticker
    seen: list[Incoming]

    async def send(self, message: types.Message) -> Incoming:
        """``message`` reaches the bot as Telegram would push it; what the core got."""
        before = len(self.seen)
        await self.tg.receive(self.tg.store(message))
        [got] = self.seen[before:]
        return got

    def asked(self, kind: type | tuple[type, ...]) -> int:
        return sum(isinstance(r, kind) for r in self.tg.requests)


@pytest.fixture
async def scene(tg: FakeTelegram, sink: TelegramSink, ticker: Ticker) -> AsyncIterator[Scene]:
    seen: list[Incoming] = []
    bot = TelegramBot(tg, seen.append, sink=sink)
    await bot.start()
    yield Scene(tg, TelegramReplies(sink), ticker, seen)
    await bot.close()


async def test_the_first_fetch_needs_only_the_download(scene: Scene) -> None:
    audio = silent_ogg(2)
    got = await scene.send(incoming("", media=scene.tg.voice(audio, duration=2), message_id=8))
    [voice] = got.attachments
    assert await scene.replies.fetch(got.chat_id, voice, 25 * MB) == audio
    assert scene.asked(GetMessages) == 0
    assert scene.asked(GetFile) == 1


async def test_a_big_file_arrives_in_telegrams_parts(scene: Scene) -> None:
    data = bytes(range(256)) * 2000  # 512 000 bytes: four 128 KiB parts
    media = scene.tg.document(data, "log.txt", "text/plain")
    got = await scene.send(incoming("", chat=GROUP, media=media, reply_to=3, mentioned=True))
    assert await scene.replies.fetch(str(GROUP_ID), got.attachments[0], MB) == data
    assert scene.asked(GetFile) == 4


async def test_a_later_fetch_asks_for_the_message_again_and_gets_the_largest_photo(
    scene: Scene, sink: TelegramSink
) -> None:
    picture = png_bytes(64, 48)
    got = await scene.send(incoming("", media=scene.tg.photo(picture, 64, 48), message_id=9))
    later = TelegramReplies(TelegramSink(scene.tg))  # another run of the bot: nothing kept
    [image] = got.attachments
    assert await later.fetch(got.chat_id, image, 10 * MB) == picture
    assert scene.asked(GetMessages) == 1
    [download] = scene.tg.of(GetFile)
    assert download.location.thumb_size == "x"
    # Kept from now on: a second fetch asks for the file only.
    assert await later.fetch(got.chat_id, image, 10 * MB) == picture
    assert scene.asked(GetMessages) == 1


@pytest.mark.parametrize("kind", ["photo", "voice"])
async def test_an_old_file_reference_is_renewed_by_fetching_the_message(
    scene: Scene, kind: str
) -> None:
    data = png_bytes(10, 10) if kind == "photo" else silent_ogg(1)
    media = scene.tg.photo(data, 10, 10) if kind == "photo" else scene.tg.voice(data, duration=1)
    got = await scene.send(incoming("", media=media, message_id=9))
    scene.tg.renew_references()
    assert await scene.replies.fetch(got.chat_id, got.attachments[0], MB) == data
    assert scene.asked(GetMessages) == 1
    assert scene.asked(GetFile) == 2  # refused with the old reference, then served


async def test_too_large_is_refused_before_any_request(scene: Scene) -> None:
    audio = silent_ogg(3)
    got = await scene.send(incoming("", media=scene.tg.voice(audio, duration=3)))
    requests = len(scene.tg.requests)
    with pytest.raises(MediaTooLarge):
        await scene.replies.fetch(got.chat_id, got.attachments[0], len(audio) - 1)
    # The attachment said nothing of its size: the message's media says it.
    unknown = attrs.evolve(got.attachments[0], size=None)
    with pytest.raises(MediaTooLarge):
        await scene.replies.fetch(got.chat_id, unknown, len(audio) - 1)
    assert len(scene.tg.requests) == requests
    assert await scene.replies.fetch(got.chat_id, got.attachments[0], len(audio)) == audio


async def test_the_download_stops_when_more_arrives_than_telegram_said(scene: Scene) -> None:
    media = scene.tg.document(bytes(300_000), "big.txt", "text/plain")
    media.document.size = 1_000  # Telegram's word; the part it sends is bigger
    got = await scene.send(incoming("", media=media))
    with pytest.raises(MediaTooLarge):
        await scene.replies.fetch(got.chat_id, got.attachments[0], 100_000)
    assert scene.asked(GetFile) == 1


async def test_a_deleted_message_or_one_without_media_is_unavailable(scene: Scene) -> None:
    gone = Attachment(MediaKind.IMAGE, "404")
    with pytest.raises(MediaUnavailable):
        await scene.replies.fetch(str(ALICE.id), gone, MB)
    scene.tg.store(incoming("just words", message_id=405))
    with pytest.raises(MediaUnavailable):
        await scene.replies.fetch(str(ALICE.id), attrs.evolve(gone, ref="405"), MB)
    with pytest.raises(MediaUnavailable):
        await scene.replies.fetch(str(ALICE.id), attrs.evolve(gone, ref="not a number"), MB)
    assert scene.asked(GetFile) == 0


async def test_a_file_telegram_no_longer_serves_is_unavailable(scene: Scene) -> None:
    got = await scene.send(incoming("", media=scene.tg.photo(png_bytes(4, 4), 4, 4)))
    scene.tg.fail(GetFile, lambda r: errors.FileIdInvalidError(r))
    with pytest.raises(MediaUnavailable):
        await scene.replies.fetch(got.chat_id, got.attachments[0], MB)


async def test_a_flood_wait_on_downloads_is_waited_out(scene: Scene, tg: FakeTelegram) -> None:
    audio = silent_ogg(1)
    got = await scene.send(incoming("", media=tg.voice(audio, duration=1)))
    tg.fail(GetFile, lambda r: errors.FloodWaitError(r, capture=7))
    assert await scene.replies.fetch(got.chat_id, got.attachments[0], MB) == audio
    assert scene.ticker.sleeps == [7]
    assert scene.asked(GetFile) == 2
    assert not tg._flood_waited_requests  # kept by the adapter, on its own clock


async def test_a_long_flood_wait_makes_every_chats_media_unavailable_until_it_ends(
    scene: Scene, tg: FakeTelegram
) -> None:
    audio = silent_ogg(1)
    alice = await scene.send(incoming("", media=tg.voice(audio, duration=1)))
    group = await scene.send(
        incoming("", chat=GROUP, media=tg.voice(audio, duration=1), reply_to=3, mentioned=True)
    )
    tg.fail(GetFile, lambda r: errors.FloodWaitError(r, capture=3600))
    with pytest.raises(MediaUnavailable, match="wait"):
        await scene.replies.fetch(alice.chat_id, alice.attachments[0], MB)
    # Telegram limits downloads per account: the group's would earn the same answer.
    asked = scene.asked(GetFile)
    with pytest.raises(MediaUnavailable, match="wait"):
        await scene.replies.fetch(group.chat_id, group.attachments[0], MB)
    assert scene.asked(GetFile) == asked
    assert scene.ticker.sleeps == []
    scene.ticker.advance(3600 - 100)  # close enough to the end to wait for it
    assert await scene.replies.fetch(group.chat_id, group.attachments[0], MB) == audio
    assert scene.ticker.sleeps == [100]


async def test_a_picture_message_looked_up_keeps_its_picture(
    scene: Scene, tg: FakeTelegram
) -> None:
    picture = png_bytes(6, 6)
    tg.store(incoming("what is it?", media=tg.photo(picture, 6, 6), message_id=70, reply_to=69))
    tg.store(incoming("", media=tg.voice(silent_ogg(1), duration=1), message_id=71))
    lookup: MessageLookup = TelegramReplies(TelegramSink(tg))
    node = await lookup.lookup(str(ALICE.id), "70")
    assert node is not None
    assert (node.text, node.parent) == ("what is it?", "69")
    assert node.attachments == (
        Attachment(MediaKind.IMAGE, "70", "image/jpeg", size=len(picture), width=6, height=6),
    )
    voice = await lookup.lookup(str(ALICE.id), "71")
    assert voice is not None
    assert voice.attachments == ()  # a thread remembers a voice note by its transcript


async def test_a_progressive_photo_is_downloaded_whole(scene: Scene) -> None:
    # Current clients send photos whose largest size is progressive; Telethon downloads it
    # only when asked for it by its type.
    picture = png_bytes(64, 48)
    media = scene.tg.photo(picture, 64, 48, progressive=True)
    got = await scene.send(incoming("", media=media, message_id=9))
    [image] = got.attachments
    assert (image.size, image.width, image.height) == (len(picture), 64, 48)
    assert await scene.replies.fetch(got.chat_id, image, 10 * MB) == picture
    [download] = scene.tg.of(GetFile)
    assert download.location.thumb_size == "y"
