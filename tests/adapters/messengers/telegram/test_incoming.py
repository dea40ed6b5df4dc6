"""Telegram updates, through Telethon's own event machinery, into what the bot should do: the
group rules, the refusals, and the text the core gets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from telethon import events
from telethon.tl import types

from adapters.messengers.telegram.incoming import BotIdentity, Reading, Refusal, read_event
from core.values import Attachment, Incoming, MediaKind, Sender
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BASIC,
    BOB,
    BOT,
    GROUP,
    GROUP_ID,
    OTHER_BOT,
    STICKER,
    FakeTelegram,
    incoming,
)
from tests.adapters.messengers.telegram.media_bytes import png_bytes, silent_ogg

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
    assert result.text == "😀 hey, what is up?"  # no space left before the comma
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
    assert result.text == "help"
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


async def test_a_sticker_gets_the_unsupported_answer_in_private_only() -> None:
    result = await read(incoming("", media=STICKER, message_id=8))
    assert result == Refusal(ALICE.id, 8, True, "ru", "message_unsupported")
    # In a group, even replying to the bot: a reaction, ignored.
    assert await read(incoming("", chat=GROUP, media=STICKER, reply_to=3, mentioned=True)) is None


VIDEO = types.MessageMediaDocument(
    document=types.Document(
        id=1,
        access_hash=1,
        file_reference=b"",
        date=None,
        mime_type="video/mp4",
        size=10,
        dc_id=2,
        attributes=[types.DocumentAttributeVideo(duration=3, w=640, h=480)],
    )
)
ROUND = types.MessageMediaDocument(
    document=types.Document(
        id=2,
        access_hash=2,
        file_reference=b"",
        date=None,
        mime_type="video/mp4",
        size=10,
        dc_id=2,
        attributes=[types.DocumentAttributeVideo(duration=3, w=240, h=240, round_message=True)],
    ),
    round=True,
)
POLL = types.MessageMediaPoll(
    poll=types.Poll(
        id=1,
        question=types.TextWithEntities("Lunch?", []),
        answers=[types.PollAnswer(types.TextWithEntities("yes", []), b"1")],
        hash=0,
    ),
    results=types.PollResults(),
)
SECRET_PHOTO = types.MessageMediaPhoto(photo=None, ttl_seconds=10)  # self-destructed


@pytest.mark.parametrize(
    "media", [VIDEO, ROUND, POLL, SECRET_PHOTO, types.MessageMediaDice(3, "🎲")]
)
async def test_media_the_bot_cannot_use_is_refused(media: Any) -> None:
    result = await read(incoming("", media=media, message_id=8))
    assert result == Refusal(ALICE.id, 8, True, "ru", "message_unsupported")
    text = "@ThisBot what is in it?"
    in_group = incoming(text, chat=GROUP, media=media, entities=[mention(text, "@ThisBot")])
    refused = await read(in_group)
    assert isinstance(refused, Refusal)
    assert refused.key == "message_unsupported"


async def test_a_voice_note_is_a_voice_attachment(tg: FakeTelegram) -> None:
    audio = silent_ogg(3)
    result = await read(incoming("", media=tg.voice(audio, duration=3), message_id=8))
    assert result == Incoming(
        chat_id=str(ALICE.id),
        message_id="8",
        sender=ALICE_SENDER,
        text="",
        private=True,
        attachments=(
            Attachment(
                MediaKind.VOICE,
                "8",
                mime="audio/ogg",
                name="voice.ogg",  # a voice note has no name: one the server can tell it by
                size=len(audio),
                duration=3.0,
            ),
        ),
    )


async def test_an_audio_file_is_voice_too_with_its_name_and_caption(tg: FakeTelegram) -> None:
    media = tg.voice(b"ID3" + bytes(500), duration=61, mime="audio/mpeg", voice=False, name="a.mp3")
    result = await read(incoming("what is said here?", media=media, message_id=9))
    assert isinstance(result, Incoming)
    assert result.text == "what is said here?"
    assert result.attachments == (
        Attachment(MediaKind.VOICE, "9", "audio/mpeg", "a.mp3", 503, duration=61.0),
    )


async def test_a_photo_is_an_image_of_its_largest_size(tg: FakeTelegram) -> None:
    picture = png_bytes(40, 30)
    text = "@ThisBot what is this?"
    message = incoming(
        text, chat=GROUP, media=tg.photo(picture, 40, 30), entities=[mention(text, "@ThisBot")]
    )
    result = await read(message)
    assert isinstance(result, Incoming)
    assert result.text == "what is this?"  # the caption, without the bot's mention
    assert result.attachments == (
        Attachment(MediaKind.IMAGE, "1", "image/jpeg", size=len(picture), width=40, height=30),
    )


async def test_a_picture_sent_as_a_file_is_an_image(tg: FakeTelegram) -> None:
    picture = png_bytes(8, 6)
    media = tg.document(picture, "chart.png", "image/png", types.DocumentAttributeImageSize(8, 6))
    result = await read(incoming("", media=media))
    assert isinstance(result, Incoming)
    assert result.attachments == (
        Attachment(MediaKind.IMAGE, "1", "image/png", "chart.png", len(picture), None, 8, 6),
    )


@pytest.mark.parametrize(
    ("name", "mime"),
    [("notes.txt", "text/plain"), ("report.pdf", "application/pdf"), ("logo.svg", "image/svg+xml")],
)
async def test_any_other_file_is_a_document(tg: FakeTelegram, name: str, mime: str) -> None:
    media = tg.document(b"<svg/> or words", name, mime)
    result = await read(incoming("summarise it", media=media, message_id=4))
    assert isinstance(result, Incoming)
    assert result.text == "summarise it"
    assert result.attachments == (Attachment(MediaKind.DOCUMENT, "4", mime, name, 15),)


async def test_a_link_preview_is_no_attachment() -> None:
    preview = types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1))
    result = await read(incoming("see https://example.org", media=preview))
    assert isinstance(result, Incoming)
    assert result.attachments == ()


async def test_media_in_groups_follows_the_rules_for_text(tg: FakeTelegram) -> None:
    photo = tg.photo(png_bytes(2, 2), 2, 2)
    voice = tg.voice(silent_ogg(1), duration=1)
    # Not addressed: a photo without caption, a caption about something else.
    assert await read(incoming("", chat=GROUP, media=photo)) is None
    assert await read(incoming("look at this", chat=BASIC, media=photo)) is None
    # A reply to the bot, with no caption at all: for the bot.
    replying = await read(incoming("", chat=GROUP, media=voice, reply_to=50), {(GROUP_ID, 50)})
    assert isinstance(replying, Incoming)
    assert replying.reply_to == "50"
    assert [a.kind for a in replying.attachments] == [MediaKind.VOICE]
    flagged = await read(incoming("", chat=BASIC, media=photo, reply_to=7, mentioned=True))
    assert isinstance(flagged, Incoming)
    assert [a.kind for a in flagged.attachments] == [MediaKind.IMAGE]
    # A reply to someone Telegram did not say: only the replied message can tell.
    unsure = await reading(incoming("", chat=GROUP, media=voice, reply_to=51))
    assert unsure is not None
    assert unsure.check_reply == 51


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
    assert result.key == "anonymous_sender"
    assert "on behalf of" in caplog.text


async def test_an_anonymous_message_not_for_the_bot_is_ignored() -> None:
    message = incoming("hello all", chat=GROUP, from_peer=types.PeerChannel(GROUP.id))
    assert await read(message) is None
