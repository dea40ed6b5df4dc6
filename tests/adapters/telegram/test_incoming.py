"""Telegram updates, through Telethon's own event machinery, into what the bot should do: the
group rules, the refusals, and the text the core gets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from telethon import events
from telethon.tl import types

from adapters.telegram.incoming import BotIdentity, Reading, Refusal, read_event
from core.values import Incoming, Sender
from tests.adapters.telegram.fakes import (
    ALICE,
    BASIC,
    BOB,
    BOT,
    GROUP,
    GROUP_ID,
    OTHER_BOT,
    FakeTelegram,
    incoming,
)

ME = BotIdentity(BOT.id, "thisbot")  # as the settings may spell it: case must not matter
ALICE_SENDER = Sender(str(ALICE.id), "Alice Liddell", "alice", "ru")


async def reading(
    message: types.Message, sent: Any = frozenset(), me: BotIdentity = ME
) -> Reading | None:
    """What ``read_event`` makes of ``message`` after Telethon turned it into an event."""
    tg = FakeTelegram()
    seen: list[Reading | None] = []

    async def handler(event: events.NewMessage.Event) -> None:
        seen.append(read_event(event, me, sent))

    tg.add_event_handler(handler, events.NewMessage())
    await tg.receive(message)
    [result] = seen
    return result


async def read(message: types.Message, sent: Any = frozenset()) -> Incoming | Refusal | None:
    result = await reading(message, sent)
    if result is None:
        return None
    assert result.check_reply is None
    return result.item


def mention(text: str, word: str) -> types.MessageEntityMention:
    return types.MessageEntityMention(text.index(word), len(word))


def command(text: str, word: str) -> types.MessageEntityBotCommand:
    return types.MessageEntityBotCommand(text.index(word), len(word))


async def test_a_private_message_is_always_for_the_bot() -> None:
    result = await read(incoming("hello there", message_id=12, reply_to=11))
    assert result == Incoming(
        chat_id=str(ALICE.id),
        message_id="12",
        sender=ALICE_SENDER,
        text="hello there",
        reply_to="11",
        private=True,
    )


async def test_a_sender_without_last_name_username_or_language() -> None:
    result = await read(incoming("hi", sender=BOB))
    assert isinstance(result, Incoming)
    assert result.sender == Sender(str(BOB.id), "Bob", None, None)


@pytest.mark.parametrize("chat", [GROUP, BASIC])
async def test_a_plain_group_message_is_not_for_the_bot(chat: Any) -> None:
    assert await read(incoming("thisbot is mentioned only as a word", chat=chat)) is None


async def test_a_mention_of_the_bot_is_for_it_and_is_taken_out() -> None:
    text = "😀 hey @ThisBot, what is up?"
    result = await read(incoming(text, chat=GROUP, entities=[types.MessageEntityMention(7, 8)]))
    assert isinstance(result, Incoming)
    assert result.text == "😀 hey , what is up?"
    assert result.chat_id == str(GROUP_ID)
    assert not result.private
    leading = "@ThisBot what is up?"
    result = await read(incoming(leading, chat=GROUP, entities=[mention(leading, "@ThisBot")]))
    assert isinstance(result, Incoming)
    assert result.text == "what is up?"


async def test_a_mention_of_a_longer_name_is_not() -> None:
    text = "ask @ThisBotFan or @other"
    entities = [mention(text, "@ThisBotFan"), mention(text, "@other")]
    assert await read(incoming(text, chat=GROUP, entities=entities)) is None


async def test_a_mention_by_name_of_the_bot_is_for_it() -> None:
    text = "GPT, help"
    entities = [types.MessageEntityMentionName(0, 3, BOT.id)]
    result = await read(incoming(text, chat=BASIC, entities=entities))
    assert isinstance(result, Incoming)
    assert result.text == ", help"
    other = [types.MessageEntityMentionName(0, 3, BOB.id)]
    assert await read(incoming(text, chat=BASIC, entities=other)) is None


@pytest.mark.parametrize(
    ("text", "word", "core_gets"),
    [
        ("/help@thisbot", "/help@thisbot", "/help"),
        ("/balance@THISBOT now", "/balance@THISBOT", "/balance now"),
        ("/help", "/help", "/help"),
        ("/help@otherbot", "/help@otherbot", None),
        ("I typed /balance yesterday", "/balance", None),  # not a command: mid-sentence
    ],
)
async def test_commands_in_groups(text: str, word: str, core_gets: str | None) -> None:
    result = await read(incoming(text, chat=GROUP, entities=[command(text, word)]))
    if core_gets is None:
        assert result is None
    else:
        assert isinstance(result, Incoming)
        assert result.text == core_gets


@pytest.mark.parametrize(
    ("text", "word", "chat", "core_gets"),
    [
        ("/weather", "/weather", GROUP, None),  # another bot's, bare: left to it
        ("/weather Paris", "/weather", BASIC, None),
        ("/balance", "/balance", GROUP, "/balance"),
        ("/BALANCE", "/BALANCE", GROUP, "/BALANCE"),  # the core reads names in any case
        ("/weather@thisbot", "/weather@thisbot", GROUP, "/weather"),  # named: ours to answer
        ("/weather", "/weather", None, "/weather"),  # private: only we can be meant
    ],
)
async def test_a_bare_command_the_bot_does_not_know_is_ignored_in_groups_only(
    text: str, word: str, chat: Any, core_gets: str | None
) -> None:
    knows = BotIdentity(BOT.id, "thisbot", frozenset({"help", "balance"}))
    result = await reading(incoming(text, chat=chat, entities=[command(text, word)]), me=knows)
    if core_gets is None:
        assert result is None
    else:
        assert result is not None
        assert isinstance(result.item, Incoming)
        assert result.item.text == core_gets


async def test_a_command_mid_sentence_in_a_private_chat_is_plain_text() -> None:
    text = "I typed /balance yesterday"
    result = await read(incoming(text, entities=[command(text, "/balance")]))
    assert isinstance(result, Incoming)
    assert result.text == text


async def test_a_reply_to_the_bot_that_telegram_flags_as_mentioning_it() -> None:
    result = await read(incoming("and then?", chat=GROUP, reply_to=50, mentioned=True))
    assert isinstance(result, Incoming)
    assert result.reply_to == "50"


async def test_a_reply_to_a_message_the_bot_sent_is_for_it() -> None:
    result = await read(incoming("and then?", chat=GROUP, reply_to=50), {(GROUP_ID, 50)})
    assert isinstance(result, Incoming)
    assert result.reply_to == "50"


async def test_any_other_reply_is_checked_against_the_replied_message() -> None:
    result = await reading(incoming("and then?", chat=GROUP, reply_to=50))
    assert result is not None
    assert result.check_reply == 50


async def test_a_forum_topic_message_is_no_reply_to_the_topic() -> None:
    in_topic = types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=3)
    result = await read(incoming("hi all", header=in_topic))
    assert isinstance(result, Incoming)
    assert result.reply_to is None
    answer = types.MessageReplyHeader(forum_topic=True, reply_to_msg_id=9, reply_to_top_id=3)
    result = await read(incoming("re", header=answer))
    assert isinstance(result, Incoming)
    assert result.reply_to == "9"


async def test_a_reply_to_another_chat_is_no_reply_here() -> None:
    header = types.MessageReplyHeader(reply_to_msg_id=9, reply_to_peer_id=types.PeerChannel(1))
    result = await read(incoming("quoted", header=header))
    assert isinstance(result, Incoming)
    assert result.reply_to is None


async def test_a_sticker_gets_the_not_text_answer_in_private_only() -> None:
    sticker = types.MessageMediaDocument(document=types.DocumentEmpty(id=1))
    result = await read(incoming("", media=sticker, message_id=8))
    assert result == Refusal(ALICE.id, 8, True, "ru", "not_text")
    # In a group, even replying to the bot: ignored, as the README says.
    assert await read(incoming("", chat=GROUP, media=sticker, reply_to=3, mentioned=True)) is None


@pytest.mark.parametrize("chat", [None, GROUP])
async def test_a_photo_with_a_caption_gets_i_cannot_see_pictures(chat: Any) -> None:
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    text = "@ThisBot what is this?"
    entities = [mention(text, "@ThisBot")]
    result = await read(incoming(text, chat=chat, media=photo, entities=entities))
    assert isinstance(result, Refusal)
    assert result.key == "no_pictures"


@pytest.mark.parametrize(
    "message",
    [
        incoming("I am the bot", sender=BOT, out=True),
        incoming(
            "/help@thisbot",
            chat=GROUP,
            sender=OTHER_BOT,
            entities=[command("/help@thisbot", "/help@thisbot")],
        ),
    ],
)
async def test_messages_of_bots_are_ignored(message: types.Message) -> None:
    assert await read(message) is None


@pytest.mark.parametrize(
    "from_peer", [types.PeerChannel(GROUP.id), types.PeerChannel(999)], ids=["admin", "channel"]
)
async def test_anonymous_admins_and_channel_senders_are_refused_and_logged(
    from_peer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    text = "@ThisBot hello"
    message = incoming(text, chat=GROUP, from_peer=from_peer, entities=[mention(text, "@ThisBot")])
    with caplog.at_level(logging.INFO):
        result = await read(message)
    assert isinstance(result, Refusal)
    assert result.key == "anonymous"
    assert "on behalf of" in caplog.text


async def test_an_anonymous_message_not_for_the_bot_is_ignored() -> None:
    message = incoming("hello all", chat=GROUP, from_peer=types.PeerChannel(GROUP.id))
    assert await read(message) is None
