"""The whole Telegram side around the real core: an update in, a formatted answer out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs
import pytest
from telethon import errors
from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.operator import TelegramOperator
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import Mode
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.ports import ChatModel, MessageLookup, Operator, ReplySink
from core.tokens import CharTokenCounter, prompt_tokens
from core.values import Account, Chunk, ModelRequest, Role, Usage
from entrypoints.bootstrap import Bot, assemble
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
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
from tests.fakes import ScriptedModel


def on_telegram(
    sink: TelegramSink,
    model: ChatModel,
    threads: MemoryThreadStore | None = None,
    *,
    admin: int = 1,
    operator: Operator | None = None,
) -> Bot:
    """The real core answering through ``sink``, with no footer to keep texts comparable."""
    replies = TelegramReplies(sink)
    ports: tuple[ReplySink, MessageLookup] = (replies, replies)  # mypy checks both ports fit
    return assemble(
        BotConfig(admin_id=str(admin), footer=False, notify_new_users=False),
        sink=ports[0],
        lookup=ports[1],
        accounts=MemoryAccountStore(),
        threads=MemoryThreadStore() if threads is None else threads,
        model=model,
        counter=CharTokenCounter(),
        clock=FakeClock(),
        operator=operator,
    )


async def served(bot: TelegramBot, app: Bot) -> None:
    """Stop as ``serve`` does: no new messages, then every message taken handled."""
    await bot.stop()
    await app.service.drain()


async def account(app: Bot, user: types.User) -> Account:
    found = await app.accounts.get(str(user.id))
    assert found is not None
    return found


async def test_a_mention_then_a_reply_to_the_answer_in_a_group() -> None:
    tg = FakeTelegram()
    ticker = Ticker()
    sink = TelegramSink(tg, message_format=MessageFormat.ENTITIES, clock=ticker, sleep=ticker.sleep)
    threads = MemoryThreadStore()
    model = ScriptedModel(pieces=("**Hello**", ", ", "`world`"))
    app = on_telegram(sink, model, threads)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()

    await tg.receive(incoming("just chatting", chat=GROUP, sender=BOB, message_id=1))
    mention = [types.MessageEntityMention(0, len("@thisbot"))]
    await tg.receive(incoming("@thisbot greet me", chat=GROUP, message_id=2, entities=mention))
    await served(bot, app)
    await bot.close()

    [answer] = tg.shown(GROUP_ID)  # nothing for Bob's chatter
    assert answer.reply_to.reply_to_msg_id == 2
    assert answer.message.startswith("Hello, world")
    assert entity_texts(answer.message, answer.entities)[:2] == [
        ("Bold", "Hello"),
        ("Code", "world"),
    ]
    node = await threads.get(str(GROUP_ID), str(answer.id))
    assert node is not None
    assert node.role is Role.ASSISTANT

    # A reply Telegram did not flag as meant for the bot: the sink remembers sending it.
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("and again", chat=GROUP, message_id=3, reply_to=answer.id))
    await served(bot, app)
    assert len(tg.shown(GROUP_ID)) == 2
    roles = [turn.role for turn in model.requests[-1].turns]
    assert roles[-3:] == [Role.USER, Role.ASSISTANT, Role.USER]
    sink.close()


async def test_a_reply_to_a_message_the_threads_forgot_is_fetched_from_telegram() -> None:
    tg = FakeTelegram()
    question = tg.store(incoming("What is 2+2?", message_id=40))
    old = tg.store(
        incoming("It is 4.", chat=ALICE, sender=BOT, out=True, message_id=41, reply_to=question.id)
    )
    ticker = Ticker()  # edit intervals pass at once, not for real
    sink = TelegramSink(tg, clock=ticker, sleep=ticker.sleep)
    model = ScriptedModel(pieces=("Five?",))
    app = on_telegram(sink, model)  # no nodes, as after losing its file
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("Sure?", message_id=42, reply_to=old.id))
    await served(bot, app)
    turns = [(t.role, t.text) for t in model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "What is 2+2?"),
        (Role.ASSISTANT, "It is 4."),
        (Role.USER, "Sure?"),
    ]
    assert [m.message for m in tg.shown(ALICE.id)] == ["It is 4.", "Five?"]
    sink.close()


async def test_a_reply_to_the_second_part_of_a_split_answer_continues_the_thread() -> None:
    tg = FakeTelegram()
    ticker = Ticker()  # edit intervals pass at once, not for real
    # Three messages in one private chat: unpaced, or Telegram's one a second would take 2 s
    # of real time (the pacer runs on the loop's clock, not the ticker).
    sink = unpaced_sink(tg, ticker)
    long_answer = "First half. " * 300 + "\n\n" + "Second half. " * 300  # over 4096 characters
    model = ScriptedModel(pieces=(long_answer,))
    app = on_telegram(sink, model)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("Tell me a long story", message_id=10))
    await served(bot, app)
    await bot.close()
    first, second = tg.shown(ALICE.id)
    assert second.reply_to.reply_to_msg_id == first.id  # each part replies to the one before
    model.pieces = ("Short.",)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("And then?", message_id=11, reply_to=second.id))
    await served(bot, app)
    turns = [(t.role, t.text) for t in model.requests[-1].turns[1:]]
    assert turns == [
        (Role.USER, "Tell me a long story"),
        (Role.ASSISTANT, long_answer),
        (Role.USER, "And then?"),
    ]
    sink.close()


@pytest.mark.parametrize("mode", [Mode.AUTO, Mode.EDIT])
async def test_a_user_who_blocked_the_bot_is_not_charged(mode: Mode) -> None:
    tg = FakeTelegram()
    tg.fail(functions.messages.SetTypingRequest, lambda r: errors.UserIsBlockedError(r), times=99)
    tg.fail(functions.messages.SendMessageRequest, lambda r: errors.UserIsBlockedError(r), times=99)
    ticker = Ticker()  # edit intervals pass at once, not for real
    sink = TelegramSink(tg, mode=mode, clock=ticker, sleep=ticker.sleep)
    model = ScriptedModel(pieces=("A long", " answer", " nobody sees"))
    app = on_telegram(sink, model)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("hello", message_id=5))
    await served(bot, app)
    alice = await account(app, ALICE)
    assert (alice.balance, alice.tokens, alice.requests) == (30_000, 0, 0)
    assert tg.shown(ALICE.id) == []
    assert model.closed_streams == 1  # the model was stopped at the first refused write
    assert await app.accounts.held(str(ALICE.id)) == 0
    sink.close()


async def test_a_final_answer_that_cannot_be_delivered_is_refunded_and_the_admin_told() -> None:
    tg = FakeTelegram()
    # Alice blocks the bot while it writes: the draft went out, the final message cannot.
    tg.fail(
        functions.messages.SendMessageRequest,
        lambda r: errors.UserIsBlockedError(r),
        when=lambda r: getattr(r.peer, "user_id", None) == ALICE.id,
        times=99,
    )
    ticker = Ticker()  # edit intervals pass at once, not for real
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep)
    model = ScriptedModel(pieces=("Hello", ", world"))
    app = on_telegram(sink, model, admin=BOB.id, operator=TelegramOperator(sink, BOB.id))
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("hello", message_id=5))
    await served(bot, app)  # the notice goes out in the background: drained here
    alice = await account(app, ALICE)
    assert (alice.balance, alice.tokens, alice.requests) == (30_000, 0, 0)
    assert (await app.accounts.totals()).tokens == 0
    assert tg.shown(ALICE.id) == []
    assert [m.message for m in tg.shown(BOB.id)] == [
        "An answer to Alice Liddell @alice (100) could not be delivered, so it was not charged."
    ]
    sink.close()


@attrs.define
class HeldModel:
    """Says ``first``, waits for ``more``, then goes on with ``rest``; notes being closed."""

    first: str
    rest: tuple[str, ...]
    more: asyncio.Event = attrs.field(factory=asyncio.Event)
    requests: list[ModelRequest] = attrs.field(factory=list)
    produced: str = ""
    closed: bool = False

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        try:
            for piece in (self.first, *self.rest):
                self.produced += piece
                yield Chunk(text=piece)
                await self.more.wait()
            yield Chunk(usage=Usage(1, 1))
        except GeneratorExit:
            self.closed = True
            raise

    async def close(self) -> None:
        return None


async def test_the_stop_button_ends_the_answer_keeps_it_and_charges_what_was_produced() -> None:
    tg = FakeTelegram()
    ticker = Ticker()
    sink = unpaced_sink(tg, ticker)
    model = HeldModel("A long answer that", (" goes on", " and on") * 50)
    app = on_telegram(sink, model)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    await tg.receive(incoming("tell me everything", sender=BOB, message_id=5))

    def drafts() -> list[types.SendMessageTextDraftAction]:
        return [
            r.action
            for r in tg.of(functions.messages.SetTypingRequest)
            if isinstance(r.action, types.SendMessageTextDraftAction)
        ]

    await until(drafts)
    [draft] = drafts()
    assert draft.text.text == "A long answer that"
    # Bob presses stop on the draft: his client tells Telegram, Telegram tells the bot.
    stop = types.SendMessageStopDraftAction(random_id=draft.random_id)
    await tg.receive_update(types.UpdateUserTyping(user_id=BOB.id, action=stop))
    model.more.set()
    await served(bot, app)

    assert model.closed  # the model's request was stopped
    produced = model.produced
    assert produced == "A long answer that goes on"  # the piece in hand when stop was seen
    [answer] = tg.shown(BOB.id)
    assert answer.message == produced + "\n\n(Stopped at your request.)"
    counter = CharTokenCounter()
    cost = prompt_tokens(counter, model.requests[0].turns) + counter.count(produced)
    bob = await account(app, BOB)
    assert (bob.tokens, bob.balance, bob.requests) == (cost, 30_000 - cost, 1)
    sink.close()


async def test_a_bare_unknown_command_in_a_group_is_left_to_other_bots() -> None:
    tg = FakeTelegram()
    ticker = Ticker()  # edit intervals pass at once, not for real
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep)
    model = ScriptedModel()
    app = on_telegram(sink, model)
    known = frozenset(app.service.commands.table)
    bot = TelegramBot(tg, app.service.submit, sink=sink, known=known)
    await bot.start()
    for number, text in enumerate(["/weather", "/weather Paris", "/balance"], start=1):
        command = [types.MessageEntityBotCommand(0, len(text.split()[0]))]
        message = incoming(text, chat=GROUP, sender=BOB, message_id=number, entities=command)
        await tg.receive(message)
    await served(bot, app)
    [answer] = tg.shown(GROUP_ID)
    assert answer.reply_to.reply_to_msg_id == 3
    assert answer.message.startswith("Your balance: 30")
    assert model.requests == []  # "/weather" never reached the model either
    sink.close()


async def test_a_group_reply_checked_with_telegram_keeps_its_place_before_the_next_message() -> (
    None
):
    tg = FakeTelegram(latency=0.01)  # the check of the replied message takes a while
    tg.store(incoming("an old answer", chat=GROUP, sender=BOT, message_id=41))
    ticker = Ticker()  # edit intervals pass at once, not for real
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep)
    model = ScriptedModel(pieces=("ok",))
    app = on_telegram(sink, model)
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    text = "@ThisBot and this"
    mention = [types.MessageEntityMention(0, len("@ThisBot"))]
    await tg.receive_all(
        [
            # Telegram did not flag it, and the bot has no memory of 41: only a fetch can tell.
            incoming("what about this?", chat=GROUP, message_id=50, reply_to=41),
            incoming(text, chat=GROUP, message_id=51, entities=mention),
        ]
    )
    await served(bot, app)
    assert [r.turns[-1].text for r in model.requests] == ["what about this?", "and this"]
    assert [m.reply_to.reply_to_msg_id for m in tg.shown(GROUP_ID)] == [50, 51]
    assert tg.of(functions.channels.GetMessagesRequest)  # it was checked with Telegram
    sink.close()
