"""Sending a picture as a photo through Telethon's upload and ``send_file`` on the fake Telegram:
paced and flood-handled like text, ``DeliveryFailed`` when it cannot arrive, and the picture
the bot sent fetched back by its message id (a thread remembers it so)."""

from __future__ import annotations

import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from core.errors import DeliveryFailed
from core.values import Attachment, MediaKind, Picture
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    incoming,
)
from tests.adapters.messengers.telegram.media_bytes import png_bytes

SendMedia = functions.messages.SendMediaRequest
SavePart = functions.upload.SaveFilePartRequest
PICTURE = Picture(png_bytes(32, 24))


async def test_a_picture_goes_as_a_photo_answering_the_request(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    replies = TelegramReplies(sink)
    ids = await replies.send_picture(str(GROUP_ID), PICTURE, "a **red** square", "41")
    [shown] = tg.shown(GROUP_ID)
    assert ids == [str(shown.id)]
    assert shown.message == "a **red** square"  # plain text, not Markdown
    assert shown.reply_to.reply_to_msg_id == 41
    assert isinstance(shown.media, types.MessageMediaPhoto)
    [request] = tg.of(SendMedia)
    assert isinstance(request.media, types.InputMediaUploadedPhoto)
    assert (GROUP_ID, shown.id) in sink.sent  # a reply to the picture is for the bot
    # The thread remembers the picture by its message id: it comes back as it was sent.
    again = Attachment(MediaKind.IMAGE, ids[0])
    assert await replies.fetch(str(GROUP_ID), again, 1 << 20) == PICTURE.data
    assert not tg.of(functions.messages.GetMessagesRequest)  # kept since it was sent


async def test_a_long_caption_follows_as_text_answering_the_picture(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    caption = "words " * 300  # 1 800 characters: more than a photo's caption takes
    ids = await sink.send_picture(ALICE.id, PICTURE, caption)
    photo, text = tg.shown(ALICE.id)
    assert ids == [photo.id, text.id]
    assert photo.message == ""
    assert text.message == caption.strip()
    assert text.reply_to.reply_to_msg_id == photo.id


async def test_a_flood_wait_is_waited_out_for_that_chat_only(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(SendMedia, lambda r: errors.FloodWaitError(r, capture=30))
    ids = await sink.send_picture(ALICE.id, PICTURE, "after the wait")
    assert ticker.sleeps == [30]
    assert [m.id for m in tg.shown(ALICE.id)] == ids
    assert len(tg.of(SendMedia)) == 2
    assert len(tg.of(SavePart)) == 1  # uploaded once, sent twice
    assert not tg._flood_waited_requests  # Telethon would refuse every chat's pictures
    # Another chat was never asked to wait.
    ticker.sleeps.clear()
    await sink.send_picture(BOB.id, PICTURE, "no wait")
    assert ticker.sleeps == []


async def test_a_flood_wait_on_the_upload_is_waited_out_too(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(SavePart, lambda r: errors.FloodWaitError(r, capture=5))
    await sink.send_picture(ALICE.id, PICTURE, "uploaded after the wait")
    assert ticker.sleeps == [5]
    assert not tg._flood_waited_requests
    assert [m.message for m in tg.shown(ALICE.id)] == ["uploaded after the wait"]


async def test_a_flood_wait_past_the_limit_fails_delivery(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(SendMedia, lambda r: errors.FloodWaitError(r, capture=3600))
    with pytest.raises(DeliveryFailed, match="wait"):
        await sink.send_picture(ALICE.id, PICTURE, "never")
    assert tg.shown(ALICE.id) == []


async def test_a_chat_closed_to_the_bot_fails_delivery(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(SendMedia, lambda r: errors.UserIsBlockedError(r))
    with pytest.raises(DeliveryFailed, match="closed"):
        await sink.send_picture(ALICE.id, PICTURE, "blocked")
    asked = len(tg.requests)
    with pytest.raises(DeliveryFailed):  # known closed now: no request at all
        await sink.send_picture(ALICE.id, PICTURE, "blocked")
    assert len(tg.requests) == asked
    await tg.receive(incoming("I unblocked you"))
    sink.reachable(ALICE.id)
    assert await sink.send_picture(ALICE.id, PICTURE, "hello again")


async def test_a_deleted_request_still_gets_its_picture(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(SendMedia, lambda r: errors.MessageIdInvalidError(r))
    await sink.send_picture(GROUP_ID, PICTURE, "here", 41)
    [shown] = tg.shown(GROUP_ID)
    assert shown.reply_to is None


async def test_bytes_telegram_cannot_read_as_a_picture_fail_delivery(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    with pytest.raises(DeliveryFailed, match="refused the picture"):
        await sink.send_picture(ALICE.id, Picture(b"not a picture at all"), "broken")
    assert len(tg.of(SendMedia)) == 1  # no use trying again
