"""The whole Telegram side around the real core: an update in, a formatted answer out."""

from __future__ import annotations

import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.storage.memory import MemoryAccountStore, MemoryThreadStore
from adapters.telegram.bot import TelegramBot
from adapters.telegram.sink import TelegramSink
from adapters.telegram.stream import Mode
from core.ports import MessageLookup, ReplySink
from core.service import BotConfig, BotService
from core.tokens import CharTokenCounter
from core.values import Role
from tests.adapters.telegram.fakes import (
    ALICE,
    BOB,
    BOT,
    GROUP,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    entity_texts,
    incoming,
)
from tests.fakes import ScriptedModel


def on_telegram(sink: TelegramSink, model: ScriptedModel, threads: MemoryThreadStore) -> BotService:
    """The real core answering through ``sink``, with no footer to keep texts comparable."""
    return BotService(
        # The old core awaits the new-user notice inside the request; admin 1 is unknown here.
        config=BotConfig(admin_id=1, bot_username="thisbot", footer=False, notify_new_users=False),
        model=model,
        accounts=MemoryAccountStore(),
        threads=threads,
        sink=sink,
        counter=CharTokenCounter(),
        clock=FakeClock(),
        lookup=sink,
    )


async def test_a_mention_then_a_reply_to_the_answer_in_a_group() -> None:
    tg = FakeTelegram()
    ticker = Ticker()
    sink = TelegramSink(tg, clock=ticker, sleep=ticker.sleep)
    ports: tuple[ReplySink, MessageLookup] = (sink, sink)  # mypy checks both ports fit
    threads = MemoryThreadStore()
    model = ScriptedModel(pieces=("**Hello**", ", ", "`world`"))
    service = BotService(
        config=BotConfig(admin_id=1, bot_username="thisbot", notify_new_users=False),
        model=model,
        accounts=MemoryAccountStore(),
        threads=threads,
        sink=ports[0],
        counter=CharTokenCounter(),
        clock=FakeClock(),
        lookup=ports[1],
    )
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()

    await tg.receive(incoming("just chatting", chat=GROUP, sender=BOB, message_id=1))
    mention = [types.MessageEntityMention(0, len("@thisbot"))]
    await tg.receive(incoming("@thisbot greet me", chat=GROUP, message_id=2, entities=mention))
    await bot.close()

    [answer] = tg.shown(GROUP_ID)  # nothing for Bob's chatter
    assert answer.reply_to.reply_to_msg_id == 2
    assert answer.message.startswith("Hello, world")
    assert entity_texts(answer.message, answer.entities)[:2] == [
        ("Bold", "Hello"),
        ("Code", "world"),
    ]
    node = threads.get(GROUP_ID, answer.id)
    assert node is not None
    assert node.role is Role.ASSISTANT

    # A reply Telegram did not flag as meant for the bot: the sink remembers sending it.
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()
    await tg.receive(incoming("and again", chat=GROUP, message_id=3, reply_to=answer.id))
    await bot.stop()
    assert len(tg.shown(GROUP_ID)) == 2
    roles = [turn.role for turn in model.requests[-1].turns]
    assert roles[-3:] == [Role.USER, Role.ASSISTANT, Role.USER]


async def test_a_reply_to_a_message_the_threads_forgot_is_fetched_from_telegram() -> None:
    tg = FakeTelegram()
    question = tg.store(incoming("What is 2+2?", message_id=40))
    old = tg.store(
        incoming("It is 4.", chat=ALICE, sender=BOT, out=True, message_id=41, reply_to=question.id)
    )
    sink = TelegramSink(tg)
    model = ScriptedModel(pieces=("Five?",))
    service = on_telegram(sink, model, MemoryThreadStore())  # no nodes, as after losing its file
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()
    await tg.receive(incoming("Sure?", message_id=42, reply_to=old.id))
    await bot.stop()
    turns = [(t.role, t.text) for t in model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "What is 2+2?"),
        (Role.ASSISTANT, "It is 4."),
        (Role.USER, "Sure?"),
    ]
    assert [m.message for m in tg.shown(ALICE.id)] == ["It is 4.", "Five?"]


async def test_a_reply_to_the_second_part_of_a_split_answer_continues_the_thread() -> None:
    tg = FakeTelegram()
    sink = TelegramSink(tg)
    long_answer = "First half. " * 300 + "\n\n" + "Second half. " * 300  # over 4096 characters
    model = ScriptedModel(pieces=(long_answer,))
    service = on_telegram(sink, model, MemoryThreadStore())
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()
    await tg.receive(incoming("Tell me a long story", message_id=10))
    await bot.close()  # returns once the message is handled
    first, second = tg.shown(ALICE.id)
    assert second.reply_to.reply_to_msg_id == first.id  # each part replies to the one before
    model.pieces = ("Short.",)
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()
    await tg.receive(incoming("And then?", message_id=11, reply_to=second.id))
    await bot.stop()
    turns = [(t.role, t.text) for t in model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "Tell me a long story"),
        (Role.ASSISTANT, long_answer),
        (Role.USER, "And then?"),
    ]


@pytest.mark.parametrize("mode", [Mode.AUTO, Mode.EDIT])
async def test_a_user_who_blocked_the_bot_is_not_charged(mode: Mode) -> None:
    tg = FakeTelegram()
    tg.fail(functions.messages.SetTypingRequest, lambda r: errors.UserIsBlockedError(r), times=99)
    tg.fail(functions.messages.SendMessageRequest, lambda r: errors.UserIsBlockedError(r), times=99)
    sink = TelegramSink(tg, mode=mode)
    model = ScriptedModel(pieces=("A long", " answer", " nobody sees"))
    service = on_telegram(sink, model, MemoryThreadStore())
    bot = TelegramBot(tg, service.handle, sink=sink)
    await bot.start()
    await tg.receive(incoming("hello", message_id=5))
    await bot.close()
    account = service.accounts.get(ALICE.id)
    assert account is not None
    assert (account.balance, account.tokens, account.requests) == (30_000, 0, 0)
    assert tg.shown(ALICE.id) == []
