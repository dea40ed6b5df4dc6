"""The sink on a real TelegramClient whose network is a fake Telegram."""

from __future__ import annotations

import asyncio

import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import Mode
from adapters.messengers.telegram.text import LIMIT, units
from core.errors import DeliveryFailed
from core.values import Node, Role
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOT,
    GROUP,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    entity_texts,
    incoming,
    unpaced_sink,
    until,
)

EditRequest = functions.messages.EditMessageRequest
SendRequest = functions.messages.SendMessageRequest


# -- send ----------------------------------------------------------------------------------------


async def test_send_is_plain_text_even_when_it_looks_like_markdown(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    ids = await sink.send(ALICE.id, "**not bold** [x](y)", reply_to=7)
    [request] = tg.sent()
    assert request.message == "**not bold** [x](y)"
    assert request.entities == []
    assert request.reply_to.reply_to_msg_id == 7
    assert ids == [m.id for m in tg.shown(ALICE.id)]


async def test_a_long_message_is_sent_in_parts_each_replying_to_the_one_before(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    text = "\n\n".join(f"Paragraph {i}: " + " ".join(["слово"] * 60) for i in range(40))
    ids = await sink.send(GROUP_ID, text, reply_to=5)
    shown = tg.shown(GROUP_ID)
    assert len(ids) == len(shown) >= 3
    assert [m.id for m in shown] == ids
    assert [m.reply_to.reply_to_msg_id for m in shown] == [5, *ids[:-1]]
    assert "\n\n".join(m.message for m in shown) == text.strip()


async def test_send_into_a_chat_that_blocked_the_bot_fails_at_once(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(SendRequest, lambda r: errors.UserIsBlockedError(r))
    with pytest.raises(DeliveryFailed, match="closed to the bot"):
        await sink.send(ALICE.id, "hello")
    assert len(tg.sent()) == 1  # no retries


async def test_a_removed_group_stops_a_long_send_after_the_parts_that_arrived(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(
        SendRequest,
        lambda r: errors.ChatWriteForbiddenError(r),
        when=lambda r: r.reply_to is not None,
    )
    with pytest.raises(DeliveryFailed):
        await sink.send(GROUP_ID, "word " * 3000)
    assert len(tg.shown(GROUP_ID)) == 1
    assert len(tg.sent()) == 2


async def test_a_reply_to_a_deleted_message_is_sent_without_the_reply(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(
        SendRequest,
        lambda r: errors.MessageIdInvalidError(r),
        when=lambda r: r.reply_to is not None,
    )
    ids = await sink.send(ALICE.id, "still here", reply_to=99)
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert message.reply_to is None


async def test_a_failing_first_message_is_retried_only_once_per_interval(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(SendRequest, lambda r: errors.RPCError(r, "INTERNAL", 500), times=2)
    stream = sink.stream(ALICE.id, None)
    for text in ["a", "ab", "abc"]:
        await stream.update(text)
    assert len(tg.sent()) == 1
    ticker.advance(1)
    await stream.update("abcd")
    assert len(tg.sent()) == 2
    ticker.advance(0.25)
    ids = await stream.finish("abcde")
    assert ticker.sleeps == []  # no message to edit: nothing to space out
    assert [m.message for m in tg.shown(ALICE.id)] == ["abcde"]
    assert ids == [m.id for m in tg.shown(ALICE.id)]


async def test_an_unknown_chat_is_given_up(sink: TelegramSink) -> None:
    with pytest.raises(DeliveryFailed):
        await sink.send(987654321, "hello")  # never seen: Telethon cannot resolve it


# -- streaming -----------------------------------------------------------------------------------


async def test_the_first_text_is_sent_at_once_then_edits_respect_the_interval(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("")
    await stream.update("  ")
    assert tg.requests == []  # nothing to show yet
    await stream.update("Hel")
    [sent] = tg.sent()
    assert sent.message == "Hel"
    await stream.update("Hello")
    ticker.advance(0.5)
    await stream.update("Hello, wor")
    assert tg.edits() == []  # private chat: one edit per second at most
    ticker.advance(0.6)
    await stream.update("Hello, world")
    assert [e.message for e in tg.edits()] == ["Hello, world"]
    ticker.advance(5)
    await stream.update("Hello, world  ")  # the same text once stripped
    assert len(tg.edits()) == 1
    await stream.update("Hello, world! **Done**")
    assert [e.message for e in tg.edits()][-1] == "Hello, world! **Done**"  # plain while streaming
    assert tg.edits()[-1].entities == []
    ids = await stream.finish("Hello, world! **Done**")
    assert ids == [sent_id(tg)]
    [message] = tg.shown(ALICE.id)
    assert message.message == "Hello, world! Done"
    assert entity_texts(message.message, message.entities) == [("Bold", "Done")]
    assert ticker.sleeps == [1.0]  # the final edit, too, kept the interval


def sent_id(tg: FakeTelegram) -> int:
    [message] = tg.shown(ALICE.id) or tg.shown(GROUP_ID)
    return int(message.id)


async def test_groups_are_edited_less_often(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(GROUP_ID, 12)
    await stream.update("a")
    for step in range(1, 13):
        ticker.advance(0.5)
        await stream.update("a" * (step + 1))
    # Six seconds of tokens: edits at 3 s and 6 s only.
    assert [len(e.message) for e in tg.edits()] == [7, 13]
    assert tg.sent()[0].reply_to.reply_to_msg_id == 12


async def test_is_private_decides_the_interval(tg: FakeTelegram, ticker: Ticker) -> None:
    sink = TelegramSink(
        tg,
        message_format=MessageFormat.ENTITIES,
        mode=Mode.EDIT,
        limits=UNLIMITED,
        clock=ticker,
        sleep=ticker.sleep,
        is_private=lambda chat: True,
    )
    stream = sink.stream(GROUP_ID, None)
    await stream.update("a")
    ticker.advance(1.5)
    await stream.update("ab")
    assert len(tg.edits()) == 1


async def test_while_streaming_only_the_first_message_worth_is_shown(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    long = "x" * (LIMIT - 1) + "😀" + "y" * 100
    await stream.update(long)
    ticker.advance(2)
    await stream.update(long + "more")  # beyond the first message: nothing changes on screen
    [sent] = tg.sent()
    assert sent.message == "x" * (LIMIT - 1)  # the emoji would not fit whole
    assert tg.edits() == []


async def test_finish_sends_the_rest_as_replies_and_returns_every_id(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    answer = "\n\n".join(f"Part **{i}** " + "lorem ipsum " * 100 for i in range(12))
    stream = sink.stream(GROUP_ID, 3)
    await stream.update(answer[:100])
    ids = await stream.finish(answer)
    shown = tg.shown(GROUP_ID)
    assert ids == [m.id for m in shown]
    assert len(ids) >= 3
    assert [m.reply_to.reply_to_msg_id for m in shown] == [3, *ids[:-1]]
    assert all(units(m.message) <= LIMIT for m in shown)
    bolds = [t for m in shown for kind, t in entity_texts(m.message, m.entities) if kind == "Bold"]
    assert bolds == [str(i) for i in range(12)]


async def test_finish_without_updates_sends_a_new_message(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    ids = await sink.stream(ALICE.id, None).finish("Sorry, *no*.", markdown=False)
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert message.message == "Sorry, *no*."
    assert tg.sent()[0].entities == []


async def test_a_final_text_equal_to_the_preview_is_fine(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("plain answer")
    tg.fail(EditRequest, lambda r: errors.MessageNotModifiedError(r))
    assert await stream.finish("plain answer") == [sent_id(tg)]


async def test_a_flood_wait_on_an_edit_pauses_the_stream_and_the_answer_still_arrives(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("one")
    tg.fail(EditRequest, lambda r: errors.FloodWaitError(r, capture=7))
    ticker.advance(1)
    await stream.update("one two")  # refused: wait 7 s
    calls = len(tg.requests)
    for _ in range(5):
        ticker.advance(1)
        await stream.update("one two three")
    assert len(tg.requests) == calls  # quiet during the wait, without sleeping on the stream
    assert ticker.sleeps == []
    ids = await stream.finish("one two three **four**")
    assert ticker.sleeps == []  # the wait holds edits: the final goes out anew, the fragment gone
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert (message.message, len(message.entities)) == ("one two three four", 1)


async def test_a_flood_wait_on_the_final_edit_sends_the_final_anew_at_once(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("draft")
    ticker.advance(10)
    tg.fail(EditRequest, lambda r: errors.FloodWaitError(r, capture=30), times=2)
    ids = await stream.finish("final")
    assert ticker.sleeps == []
    [message] = tg.shown(ALICE.id)
    assert (ids, message.message) == ([message.id], "final")
    assert len(tg.edits()) == 1


async def test_a_flood_wait_on_the_first_message_delays_it_to_the_finish(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(SendRequest, lambda r: errors.FloodWaitError(r, capture=4))
    stream = sink.stream(ALICE.id, None)
    await stream.update("a")
    ticker.advance(1)
    await stream.update("ab")
    assert len(tg.sent()) == 1
    ids = await stream.finish("abc")
    assert ticker.sleeps == [3]
    assert [m.message for m in tg.shown(ALICE.id)] == ["abc"]
    assert len(ids) == 1


async def test_rejected_formatting_falls_back_to_plain_text(
    tg: FakeTelegram, sink: TelegramSink, caplog: pytest.LogCaptureFixture
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("Use `x`")
    tg.fail(
        EditRequest, lambda r: errors.EntityBoundsInvalidError(r), when=lambda r: bool(r.entities)
    )
    ids = await stream.finish("Use `x` and **y**")
    [formatted, plain] = tg.edits()
    assert len(formatted.entities) == 2
    assert plain.entities == []
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert message.message == "Use x and y"
    assert "refused the formatting" in caplog.text


async def test_any_bad_request_about_a_formatted_message_falls_back(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(
        SendRequest,
        lambda r: errors.BadRequestError(r, "ENTITY_TEXTURL_INVALID"),
        when=lambda r: bool(r.entities),
    )
    ids = await sink.stream(ALICE.id, None).finish("[a](https://b.org/c)")
    [message] = tg.shown(ALICE.id)
    assert (ids, message.message, message.entities) == ([message.id], "a (https://b.org/c)", [])


async def test_a_deleted_stream_message_is_replaced_by_a_new_one(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, 1)
    await stream.update("first")
    tg.stored.clear()  # the user deleted the bot's message
    ticker.advance(2)
    await stream.update("first and more")
    [replacement] = tg.shown(ALICE.id)
    assert replacement.message == "first and more"
    ticker.advance(2)
    ids = await stream.finish("first and more, done")
    assert ids == [replacement.id]
    assert [m.message for m in tg.shown(ALICE.id)] == ["first and more, done"]


async def test_a_chat_closed_mid_stream_fails_the_update_and_the_finish(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(GROUP_ID, 9)
    await stream.update("start")
    assert stream.shown
    tg.fail(EditRequest, lambda r: errors.ChannelPrivateError(r), times=100)
    ticker.advance(5)
    with pytest.raises(DeliveryFailed):
        await stream.update("start and more")
    with pytest.raises(DeliveryFailed):
        await stream.finish("the end")


async def test_a_part_telegram_finds_too_long_is_split_smaller(ticker: Ticker) -> None:
    tg = FakeTelegram(limit=1000)  # Telegram counting differently from us
    sink = unpaced_sink(tg, ticker)
    text = " ".join(f"w{i}" for i in range(700))
    ids = await sink.stream(ALICE.id, None).finish(text)
    shown = tg.shown(ALICE.id)
    assert ids == [m.id for m in shown]
    assert len(shown) >= 3
    assert " ".join(m.message for m in shown) == text


# -- typing and lookup ---------------------------------------------------------------------------


async def test_typing_sets_the_typing_action(tg: FakeTelegram) -> None:
    sink = TelegramSink(tg, message_format=MessageFormat.ENTITIES, typing_delay=0)
    await sink.typing(GROUP_ID)
    await until(lambda: tg.of(functions.messages.SetTypingRequest), "typing")
    [request, *_] = tg.of(functions.messages.SetTypingRequest)
    assert isinstance(request.action, types.SendMessageTypingAction)
    assert isinstance(request.peer, types.InputPeerChannel)
    sink.close()


async def test_a_quick_answer_shows_no_typing(tg: FakeTelegram) -> None:
    # Quick: finished well within the delay, even on a loaded machine; then the delay passes.
    sink = TelegramSink(tg, message_format=MessageFormat.ENTITIES, typing_delay=0.3)
    await sink.typing(ALICE.id)
    await sink.stream(ALICE.id, None).finish("quick")
    await asyncio.sleep(0.35)
    assert tg.of(functions.messages.SetTypingRequest) == []


async def test_a_chat_found_closed_by_typing_fails_the_answer_without_a_request(
    tg: FakeTelegram,
) -> None:
    sink = TelegramSink(tg, message_format=MessageFormat.ENTITIES, mode=Mode.EDIT, typing_delay=0)
    tg.fail(functions.messages.SetTypingRequest, lambda r: errors.UserIsBlockedError(r))
    await sink.typing(ALICE.id)  # never raises: "typing…" goes on in the background
    await until(lambda: ALICE.id in sink.writer.closed, "typing to find the chat closed")
    stream = sink.stream(ALICE.id, None)
    with pytest.raises(DeliveryFailed):
        await stream.update("Hello")
    assert not stream.shown
    assert tg.sent() == []
    sink.reachable(ALICE.id)  # she wrote again: unblocked
    await sink.stream(ALICE.id, None).finish("Hello")
    assert [m.message for m in tg.shown(ALICE.id)] == ["Hello"]


async def test_lookup_tells_the_bot_own_messages_from_the_users(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.store(incoming("What is 2+2?", chat=None, message_id=40))
    replies = TelegramReplies(sink)  # the core's side: ids are text
    alice = str(ALICE.id)
    [answer] = await replies.send(alice, "4", reply_to="40")
    assert await replies.lookup(alice, answer) == Node(alice, answer, Role.ASSISTANT, "4", "40")
    assert await replies.lookup(alice, "40") == Node(alice, "40", Role.USER, "What is 2+2?")
    assert await replies.lookup(alice, "41") is None


async def test_lookup_of_a_channel_message_sent_by_the_bot_without_the_out_flag(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.store(incoming("mine", chat=GROUP, sender=BOT, message_id=7, reply_to=6))
    node = await sink.lookup(GROUP_ID, 7)
    assert node == Node(str(GROUP_ID), "7", Role.ASSISTANT, "mine", "6")
    assert tg.of(functions.channels.GetMessagesRequest)


async def test_lookup_failures_give_none(tg: FakeTelegram, sink: TelegramSink) -> None:
    tg.fail(functions.messages.GetMessagesRequest, lambda r: errors.MessageIdsEmptyError(r))
    assert await sink.lookup(ALICE.id, 1) is None
    assert await sink.lookup(555_555, 1) is None  # a chat Telethon cannot resolve


async def test_typing_is_renewed_until_the_first_text_is_shown(tg: FakeTelegram) -> None:
    sink = TelegramSink(
        tg, message_format=MessageFormat.ENTITIES, mode=Mode.EDIT, typing_every=0.01, typing_delay=0
    )
    stream = sink.stream(ALICE.id, None)
    await sink.typing(ALICE.id)
    # Once at once, then again while the model is silent.
    await until(lambda: len(tg.of(functions.messages.SetTypingRequest)) >= 3, "renewals")
    await stream.update("Hello")
    shown = len(tg.of(functions.messages.SetTypingRequest))
    await asyncio.sleep(0.1)
    assert len(tg.of(functions.messages.SetTypingRequest)) == shown
    await stream.finish("Hello")


async def test_a_failed_answer_stops_typing_too(tg: FakeTelegram) -> None:
    sink = TelegramSink(
        tg, message_format=MessageFormat.ENTITIES, mode=Mode.EDIT, typing_every=0.01, typing_delay=0
    )
    await sink.typing(ALICE.id)
    await sink.stream(ALICE.id, None).finish("The model failed.", markdown=False)
    shown = len(tg.of(functions.messages.SetTypingRequest))
    await asyncio.sleep(0.1)
    assert len(tg.of(functions.messages.SetTypingRequest)) == shown


# -- issue 8's edges -----------------------------------------------------------------------------


async def test_the_plain_fallback_keeps_urls_and_code_readable(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.fail(
        SendRequest,
        lambda r: errors.BadRequestError(r, "ENTITY_BOUNDS_INVALID"),
        when=lambda r: bool(r.entities),
    )
    answer = "Read [the docs](https://docs.example.org/a) 😀.\n\n```python\nprint(1)\n```"
    await sink.stream(ALICE.id, None).finish(answer)
    [message] = tg.shown(ALICE.id)
    assert message.message == "Read the docs (https://docs.example.org/a) 😀.\n\nprint(1)"
    assert message.entities == []


@pytest.mark.parametrize("answer", ["   \n ", "```", "```\n```"])
async def test_an_answer_with_nothing_visible_still_shows_something(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker, answer: str
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update(answer)
    ticker.advance(2)
    ids = await stream.finish(answer)
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert message.message == "…"  # not an empty screen, not a raw "```" left from the preview
