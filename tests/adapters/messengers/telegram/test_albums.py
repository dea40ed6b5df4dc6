"""Albums: the pictures sent together reach the core as one message, in the chat's order."""

from __future__ import annotations

from typing import Any

from telethon.tl import types

from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.sink import TelegramSink
from core.values import Incoming, MediaKind
from tests.adapters.messengers.telegram.fakes import GROUP, FakeTelegram, incoming
from tests.media import png_bytes

MENTION = [types.MessageEntityMention(0, len("@ThisBot"))]


def part(tg: FakeTelegram, message_id: int, album: int, text: str = "", **more: Any) -> Any:
    message = incoming(
        text, media=tg.photo(png_bytes(8 + message_id, 8), 8 + message_id, 8), **more
    )
    message.id = message_id
    message.grouped_id = album
    return message


async def run(tg: FakeTelegram, messages: list[Any]) -> list[Incoming]:
    handed: list[Incoming] = []
    bot = TelegramBot(tg, handed.append, sink=TelegramSink(tg), album_wait=0.05)
    await bot.start()
    for message in messages:
        await tg.receive(message)
    await bot.stop()  # waits for the chats' queues, albums included
    return handed


async def test_an_album_is_one_message_with_every_picture_and_the_caption() -> None:
    tg = FakeTelegram()
    handed = await run(
        tg,
        [
            part(tg, 10, 77, "compare these"),
            part(tg, 11, 77),
            part(tg, 12, 77),
            incoming("and this text came after", message_id=13),
        ],
    )
    album, after = handed
    assert (album.message_id, album.text) == ("10", "compare these")
    assert [(a.kind, a.ref, a.width) for a in album.attachments] == [
        (MediaKind.IMAGE, "10", 18),
        (MediaKind.IMAGE, "11", 19),
        (MediaKind.IMAGE, "12", 20),
    ]
    assert after.text == "and this text came after"  # after the album, as it was sent


async def test_two_albums_stay_apart() -> None:
    tg = FakeTelegram()
    handed = await run(tg, [part(tg, 10, 1), part(tg, 11, 1), part(tg, 12, 2)])
    assert [[a.ref for a in m.attachments] for m in handed] == [["10", "11"], ["12"]]


async def test_in_a_group_the_parts_join_the_part_that_addresses_the_bot() -> None:
    tg = FakeTelegram()
    first = part(tg, 10, 5, "@ThisBot which is better?", chat=GROUP, entities=MENTION)
    handed = await run(tg, [first, part(tg, 11, 5, chat=GROUP)])
    [album] = handed
    assert album.text == "which is better?"
    assert [a.ref for a in album.attachments] == ["10", "11"]


async def test_an_album_not_meant_for_the_bot_stays_ignored_in_a_group() -> None:
    tg = FakeTelegram()
    handed = await run(tg, [part(tg, 10, 5, "holiday", chat=GROUP), part(tg, 11, 5, chat=GROUP)])
    assert handed == []
