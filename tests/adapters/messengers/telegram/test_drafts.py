"""Live drafts in private chats: the preview, its refresh, the fallback, the stop button."""

from __future__ import annotations

import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import DRAFT_REFRESH, Mode
from core.errors import AnswerStopped, DeliveryFailed
from core.values import Incoming
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    entity_texts,
)

TypingRequest = functions.messages.SetTypingRequest


def drafts(tg: FakeTelegram) -> list[types.SendMessageTextDraftAction]:
    return [
        r.action
        for r in tg.of(TypingRequest)
        if isinstance(r.action, types.SendMessageTextDraftAction)
    ]


@pytest.fixture
def sink(tg: FakeTelegram, ticker: Ticker) -> TelegramSink:
    """The default streaming mode: drafts in private chats (text drafts here; rich drafts are
    test_rich.py's)."""
    return TelegramSink(
        tg,
        limits=UNLIMITED,
        clock=ticker,
        sleep=ticker.sleep,
        message_format=MessageFormat.ENTITIES,
    )


async def test_a_private_answer_streams_as_a_draft_and_ends_as_a_message(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("Hel")
    assert stream.shown
    ticker.advance(0.2)
    await stream.update("Hello")  # within the draft interval: skipped
    ticker.advance(0.5)
    await stream.update("Hello, world")
    assert [d.text.text for d in drafts(tg)] == ["Hel", "Hello, world"]
    assert {d.random_id for d in drafts(tg)} == {stream.random_id}
    assert all(d.can_stop for d in drafts(tg))
    assert tg.sent() == []  # no message until the end
    assert tg.edits() == []
    ids = await stream.finish("Hello, **world**")
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert entity_texts(message.message, message.entities) == [("Bold", "world")]
    assert tg.edits() == []


async def test_a_long_generation_refreshes_its_draft(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("thinking aloud")
    ticker.advance(5)
    await stream.update("thinking aloud")  # unchanged: nothing to send
    assert len(drafts(tg)) == 1
    ticker.advance(DRAFT_REFRESH)
    await stream.update("thinking aloud")  # unchanged, but clients drop old drafts
    assert len(drafts(tg)) == 2


async def test_a_draft_shows_the_latest_text_of_a_long_answer(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    answer = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    await sink.stream(ALICE.id, None).update(answer)
    [draft] = drafts(tg)
    assert draft.text.text.endswith("line 199 " + "x" * 50)
    assert draft.text.text.startswith("line ")
    assert len(draft.text.text) <= 4096


async def test_groups_are_edited_not_drafted(tg: FakeTelegram, sink: TelegramSink) -> None:
    stream = sink.stream(GROUP_ID, 5)
    await stream.update("hello group")
    assert drafts(tg) == []
    assert [m.message for m in tg.shown(GROUP_ID)] == ["hello group"]


async def test_edit_mode_edits_private_chats_too(tg: FakeTelegram, ticker: Ticker) -> None:
    sink = TelegramSink(tg, mode=Mode.EDIT, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep)
    await sink.stream(ALICE.id, None).update("hello")
    assert drafts(tg) == []
    assert len(tg.sent()) == 1


async def test_a_refused_draft_falls_back_to_edits(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(TypingRequest, lambda r: errors.BadRequestError(r, "SEND_AS_DRAFT_INVALID"))
    stream = sink.stream(ALICE.id, None)
    await stream.update("first words")
    assert [m.message for m in tg.shown(ALICE.id)] == ["first words"]  # sent at once instead
    ticker.advance(2)
    await stream.update("first words and more")
    assert [e.message for e in tg.edits()] == ["first words and more"]
    assert len(drafts(tg)) == 1  # not asked again
    assert await stream.finish("done") == [tg.shown(ALICE.id)[0].id]


async def test_a_flooded_draft_waits_without_holding_the_answer(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("one")
    tg.fail(TypingRequest, lambda r: errors.FloodWaitError(r, capture=10))
    ticker.advance(1)
    await stream.update("one two")  # FLOOD_WAIT_10
    for _ in range(5):
        ticker.advance(1)
        await stream.update("one two three")
    assert len(drafts(tg)) == 2  # quiet for the wait
    ticker.advance(5)
    await stream.update("one two three four")
    assert drafts(tg)[-1].text.text == "one two three four"


async def test_a_blocked_user_fails_the_draft(tg: FakeTelegram, sink: TelegramSink) -> None:
    tg.fail(TypingRequest, lambda r: errors.UserIsBlockedError(r))
    stream = sink.stream(ALICE.id, None)
    with pytest.raises(DeliveryFailed):
        await stream.update("hello")
    assert not stream.shown


async def test_the_stop_button_stops_the_stream(tg: FakeTelegram, sink: TelegramSink) -> None:
    def submit(message: Incoming) -> None:
        raise AssertionError("no message here")

    bot = TelegramBot(tg, submit, sink=sink)
    await bot.start()
    stream = sink.stream(ALICE.id, None)
    await stream.update("a long answer that")
    # Alice presses stop: her client sends a stop action, Telegram pushes it to the bot.
    action = types.SendMessageStopDraftAction(random_id=stream.random_id)
    await tg.receive_update(types.UpdateUserTyping(user_id=ALICE.id, action=action))
    with pytest.raises(AnswerStopped):
        await stream.update("a long answer that goes on")
    ids = await stream.finish("a long answer that\n\n(stopped)")
    assert [m.message for m in tg.shown(ALICE.id)] == ["a long answer that\n\n(stopped)"]
    assert ids == [tg.shown(ALICE.id)[0].id]
    await bot.close()


async def test_a_stop_for_another_draft_changes_nothing(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("answer")
    assert not sink.stop_pressed(ALICE.id, stream.random_id + 1)
    assert not sink.stop_pressed(ALICE.id + 1, stream.random_id)
    await stream.update("answer goes on")  # no AnswerStopped


async def test_a_network_error_on_a_draft_skips_it(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    tg.fail(TypingRequest, lambda r: ConnectionError("connection reset"))
    stream = sink.stream(ALICE.id, None)
    await stream.update("one")  # lost on the way: no error for the answer
    assert not stream.shown
    ticker.advance(1)
    await stream.update("one two")
    assert stream.shown
    assert drafts(tg)[-1].text.text == "one two"
