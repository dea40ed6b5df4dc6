"""Telegram updates, through Telethon's own event machinery, into the core's Incoming."""

from __future__ import annotations

from typing import Any

import pytest
from telethon import events
from telethon.tl import types

from adapters.telegram.incoming import BotIdentity, NotText, read_event
from core.values import Incoming, Sender
from tests.adapters.telegram.fakes import (
    ALICE,
    BASIC,
    BASIC_ID,
    BOB,
    BOT,
    GROUP,
    GROUP_ID,
    OTHER_BOT,
    FakeTelegram,
    incoming,
)

ME = BotIdentity(BOT.id, "thisbot")  # as the settings may spell it: case must not matter
ALICE_SENDER = Sender(ALICE.id, "Alice Liddell", "alice", "ru")


async def read(message: types.Message) -> Incoming | NotText | None:
    """What ``read_event`` makes of ``message`` after Telethon turned it into an event."""
    tg = FakeTelegram()
    seen: list[Incoming | NotText | None] = []

    async def handler(event: events.NewMessage.Event) -> None:
        seen.append(read_event(event, ME))

    tg.add_event_handler(handler, events.NewMessage())
    await tg.receive(message)
    [result] = seen
    return result


def mention(text: str, word: str) -> types.MessageEntityMention:
    return types.MessageEntityMention(text.index(word), len(word))


def command(text: str, word: str) -> types.MessageEntityBotCommand:
    return types.MessageEntityBotCommand(text.index(word), len(word))


async def test_a_private_message_is_always_addressed() -> None:
    result = await read(incoming("hello there", message_id=12, reply_to=11))
    assert result == Incoming(
        chat_id=ALICE.id,
        message_id=12,
        sender=ALICE_SENDER,
        text="hello there",
        reply_to=11,
        private=True,
        addressed=True,
    )


async def test_a_sender_without_last_name_username_or_language() -> None:
    result = await read(incoming("hi", sender=BOB))
    assert isinstance(result, Incoming)
    assert result.sender == Sender(BOB.id, "Bob", None, None)


@pytest.mark.parametrize("chat", [GROUP, BASIC])
async def test_a_plain_group_message_is_not_addressed(chat: Any) -> None:
    result = await read(incoming("thisbot is mentioned only as a word", chat=chat))
    assert isinstance(result, Incoming)
    assert result.chat_id == (GROUP_ID if chat is GROUP else BASIC_ID)
    assert (result.private, result.addressed) == (False, False)


async def test_a_mention_of_the_bot_addresses_it() -> None:
    text = "😀 hey @ThisBot, what is up?"
    result = await read(incoming(text, chat=GROUP, entities=[types.MessageEntityMention(7, 8)]))
    assert isinstance(result, Incoming)
    assert result.text == text
    assert result.addressed


async def test_a_mention_of_a_longer_name_does_not() -> None:
    text = "ask @ThisBotFan or @other"
    entities = [mention(text, "@ThisBotFan"), mention(text, "@other")]
    result = await read(incoming(text, chat=GROUP, entities=entities))
    assert isinstance(result, Incoming)
    assert not result.addressed


async def test_a_mention_by_name_of_the_bot_addresses_it() -> None:
    text = "GPT, help"
    entities = [types.MessageEntityMentionName(0, 3, BOT.id)]
    result = await read(incoming(text, chat=BASIC, entities=entities))
    assert isinstance(result, Incoming)
    assert result.addressed
    other = [types.MessageEntityMentionName(0, 3, BOB.id)]
    again = await read(incoming(text, chat=BASIC, entities=other))
    assert isinstance(again, Incoming)
    assert not again.addressed


@pytest.mark.parametrize(
    ("text", "word", "addressed"),
    [
        ("/help@thisbot", "/help@thisbot", True),
        ("/balance@THISBOT now", "/balance@THISBOT", True),
        ("/help", "/help", True),
        ("/help@otherbot", "/help@otherbot", False),
    ],
)
async def test_commands_in_groups(text: str, word: str, addressed: bool) -> None:
    result = await read(incoming(text, chat=GROUP, entities=[command(text, word)]))
    assert isinstance(result, Incoming)
    assert result.addressed is addressed


async def test_a_reply_to_the_bot_that_telegram_flags_as_mentioning_it() -> None:
    result = await read(incoming("and then?", chat=GROUP, reply_to=50, mentioned=True))
    assert isinstance(result, Incoming)
    assert (result.reply_to, result.addressed) == (50, True)


async def test_a_reply_without_the_flag_is_left_for_the_core_to_judge() -> None:
    result = await read(incoming("and then?", chat=GROUP, reply_to=50))
    assert isinstance(result, Incoming)
    assert (result.reply_to, result.addressed) == (50, False)


async def test_a_forum_topic_message_is_no_reply_to_the_topic() -> None:
    in_topic = types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=3)
    result = await read(incoming("hi all", chat=GROUP, header=in_topic))
    assert isinstance(result, Incoming)
    assert result.reply_to is None
    answer = types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=9, reply_to_top_id=3)
    result = await read(incoming("re", chat=GROUP, header=answer))
    assert isinstance(result, Incoming)
    assert result.reply_to == 9


async def test_a_reply_to_another_chat_is_no_reply_here() -> None:
    header = types.MessageReplyHeader(reply_to_msg_id=9, reply_to_peer_id=types.PeerChannel(1))
    result = await read(incoming("quoted", header=header))
    assert isinstance(result, Incoming)
    assert result.reply_to is None


@pytest.mark.parametrize("chat", [None, GROUP])
async def test_a_sticker_is_marked_as_not_text(chat: Any) -> None:
    sticker = types.MessageMediaDocument(document=types.DocumentEmpty(id=1))
    result = await read(incoming("", chat=chat, media=sticker, message_id=8))
    assert result == NotText(
        chat_id=ALICE.id if chat is None else GROUP_ID,
        message_id=8,
        sender=ALICE_SENDER,
        private=chat is None,
        addressed=chat is None,
    )


async def test_a_sticker_replying_to_the_bot_in_a_group_is_addressed() -> None:
    sticker = types.MessageMediaDocument(document=types.DocumentEmpty(id=1))
    result = await read(incoming("", chat=GROUP, media=sticker, reply_to=3, mentioned=True))
    assert isinstance(result, NotText)
    assert result.addressed


async def test_a_photo_with_a_caption_is_text() -> None:
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    result = await read(incoming("what is this?", media=photo))
    assert isinstance(result, Incoming)
    assert result.text == "what is this?"


@pytest.mark.parametrize(
    "message",
    [
        incoming("I am the bot", sender=BOT, out=True),
        incoming("/help@thisbot", chat=GROUP, sender=OTHER_BOT),
    ],
)
async def test_messages_of_bots_are_ignored(message: types.Message) -> None:
    assert await read(message) is None


async def test_an_anonymous_admin_is_ignored() -> None:
    message = incoming("hello", chat=GROUP, from_peer=types.PeerChannel(GROUP.id))
    assert await read(message) is None
