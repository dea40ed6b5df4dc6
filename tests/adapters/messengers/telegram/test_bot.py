"""The runner: Telethon events in, handed to the core in each chat's order, many chats at once.

The adapter calls the core's ``submit`` and waits for nothing but the checks only Telegram can
answer; the core keeps each conversation in order. Tests of the order run on the real core.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import pytest
from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.messengers.telegram.bot import Submit, TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.incoming import BotIdentity
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.tokens import CharTokenCounter
from core.values import Chunk, Incoming, ModelRequest, Usage
from entrypoints.bootstrap import Bot, assemble
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    BOT,
    GROUP,
    GROUP_ID,
    STICKER,
    FakeTelegram,
    incoming,
)

MENTION = [types.MessageEntityMention(0, len("@ThisBot"))]


async def started(tg: FakeTelegram, submit: Submit, **options: object) -> TelegramBot:
    bot = TelegramBot(tg, submit, sink=TelegramSink(tg), **options)  # type: ignore[arg-type]
    await bot.start()
    return bot


@attrs.define
class ProbeModel:
    """A model that runs ``probe`` on each message's text, then answers "ok"."""

    probe: Callable[[str], Awaitable[None]]

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        await self.probe(request.turns[-1].text)
        yield Chunk(text="ok")
        yield Chunk(usage=Usage(1, 1))

    async def close(self) -> None:
        return None


@attrs.define
class OnCore:
    """The adapter feeding the real core, whose model runs a probe."""

    tg: FakeTelegram
    sink: TelegramSink
    app: Bot
    bot: TelegramBot

    async def stop(self) -> None:
        """As ``serve`` stops: no new messages, then every message taken is handled."""
        await self.bot.stop()
        await self.app.service.drain()
        await self.bot.close()
        self.sink.close()


async def on_core(tg: FakeTelegram, probe: Callable[[str], Awaitable[None]]) -> OnCore:
    sink = TelegramSink(tg, limits=UNLIMITED)
    app = assemble(
        BotConfig(admin_id="1", footer=False, notify_new_users=False),
        sink=TelegramReplies(sink),
        accounts=MemoryAccountStore(),
        threads=MemoryThreadStore(),
        model=ProbeModel(probe),
        counter=CharTokenCounter(),
        clock=FakeClock(),
    )
    bot = TelegramBot(tg, app.service.submit, sink=sink)
    await bot.start()
    return OnCore(tg, sink, app, bot)


async def until(condition: Callable[[], object]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_start_learns_who_the_bot_is_and_publishes_the_menu() -> None:
    tg = FakeTelegram()
    menu = {"": [("help", "Help"), ("balance", "Balance")], "ru": [("help", "Помощь")]}

    got: list[Incoming] = []
    bot = await started(tg, got.append, commands=menu)
    assert bot.identity == BotIdentity(BOT.id, "ThisBot")
    requests = tg.of(functions.bots.SetBotCommandsRequest)
    assert [(r.lang_code, [(c.command, c.description) for c in r.commands]) for r in requests] == [
        ("", [("help", "Help"), ("balance", "Balance")]),
        ("ru", [("help", "Помощь")]),
    ]
    assert all(isinstance(r.scope, types.BotCommandScopeDefault) for r in requests)


async def test_a_failing_menu_does_not_stop_the_bot() -> None:
    tg = FakeTelegram()
    tg.fail(functions.bots.SetBotCommandsRequest, lambda r: ConnectionError("down"))
    got: list[Incoming] = []
    bot = await started(tg, got.append, commands={"": [("help", "Help")]})
    await tg.receive(incoming("hi"))
    await bot.stop()
    assert [m.text for m in got] == ["hi"]


async def test_messages_of_one_chat_are_handled_in_order_and_chats_concurrently() -> None:
    tg = FakeTelegram()
    rng = random.Random(7)
    running: dict[str, int] = {}
    overlap = 0
    handled: dict[str, list[str]] = {}

    async def probe(text: str) -> None:
        nonlocal overlap
        chat_id = text.split(":")[0]
        running[chat_id] = running.get(chat_id, 0) + 1
        assert running[chat_id] == 1, "two messages of one chat at once"
        overlap = max(overlap, sum(running.values()))
        for _ in range(rng.randint(0, 5)):
            await asyncio.sleep(0)
        handled.setdefault(chat_id, []).append(text)
        running[chat_id] -= 1

    core = await on_core(tg, probe)
    chats = {ALICE.id: (None, ALICE), BOB.id: (None, BOB), GROUP_ID: (GROUP, ALICE)}
    messages = []
    for number in range(60):
        chat_id = rng.choice(list(chats))
        chat, sender = chats[chat_id]
        text = f"{chat_id}:{number}"
        entities = None
        if chat is not None:  # in the group, the bot must be mentioned
            text, entities = f"@ThisBot {text}", MENTION
        messages.append(
            incoming(text, chat=chat, sender=sender, message_id=number, entities=entities)
        )
    await tg.receive_all(messages)
    await core.stop()
    for chat_id, texts in handled.items():
        sent = [m.message.removeprefix("@ThisBot ") for m in messages]
        expected = [text for text in sent if text.startswith(f"{chat_id}:")]
        assert texts == expected
    assert sum(map(len, handled.values())) == 60
    assert overlap > 1  # other chats did not wait


async def test_a_slow_answer_holds_back_its_own_chat_only() -> None:
    tg = FakeTelegram()
    gate = asyncio.Event()
    events: list[str] = []

    async def probe(text: str) -> None:
        events.append("start " + text)
        if text == "a1":
            await gate.wait()
        events.append("end " + text)

    core = await on_core(tg, probe)
    await tg.receive_all(
        [
            incoming("a1", message_id=1),
            incoming("a2", message_id=2),
            incoming("b1", sender=BOB, message_id=3),
        ]
    )
    await until(lambda: "end b1" in events)
    assert events == ["start a1", "start b1", "end b1"]
    gate.set()
    await core.stop()
    assert events[3:] == ["end a1", "start a2", "end a2"]


async def test_once_the_core_is_stopping_new_messages_are_told_to_come_back() -> None:
    tg = FakeTelegram()
    gate = asyncio.Event()
    handled: list[str] = []

    async def probe(text: str) -> None:
        await gate.wait()
        handled.append(text)

    core = await on_core(tg, probe)
    await tg.receive(incoming("before"))
    core.app.service.request_stop()  # the admin's /stop, or a signal
    await tg.receive(incoming("after", message_id=2))  # Alice's client speaks Russian
    await tg.receive(incoming("after", sender=BOB, message_id=3))
    await tg.receive(incoming("not for the bot", chat=GROUP, message_id=4))
    await until(lambda: tg.shown(ALICE.id) and tg.shown(BOB.id))
    gate.set()
    await core.stop()  # the answer in flight is finished
    assert handled == ["before"]
    assert [m.message for m in tg.shown(ALICE.id)] == [
        "Бот выключается и сейчас не может ответить. Попробуйте через минуту. Ничего не списано.",
        "ok",
    ]
    assert [m.message for m in tg.shown(BOB.id)] == [
        "The bot is shutting down and cannot answer now. Please try again in a minute. "
        "Nothing was charged."
    ]
    assert tg.shown(GROUP_ID) == []


async def test_stop_waits_for_a_reply_being_checked_and_hands_later_messages_on() -> None:
    """After ``stop`` a message meant for the bot still goes to the core, which (stopping as
    well) answers it with its own "shutting down, try again in a minute"."""
    tg = FakeTelegram(latency=0.05)  # the check of the replied message takes a while
    tg.store(incoming("an old answer", chat=GROUP, sender=BOT, message_id=41))
    got: list[Incoming] = []
    bot = await started(tg, got.append)
    await tg.receive(incoming("to the bot?", chat=GROUP, message_id=50, reply_to=41))
    stopping = asyncio.create_task(bot.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    await tg.receive(incoming("after", sender=BOB, message_id=3))
    await stopping
    assert "to the bot?" in [m.text for m in got]  # checked, then handed to the core
    await bot.close()  # waits for the farewells
    assert sorted(m.text for m in got) == ["after", "to the bot?"]


class HeldChecks(FakeTelegram):
    """Telegram answering no "get messages" request until ``answer`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def _telegram(self, request: object) -> object:
        gets = (functions.channels.GetMessagesRequest, functions.messages.GetMessagesRequest)
        if isinstance(request, gets):
            await self.answer.wait()
        return await super()._telegram(request)


async def test_a_message_waits_for_the_check_of_an_earlier_reply_in_its_own_chat_only() -> None:
    tg = HeldChecks()
    tg.store(incoming("an old answer", chat=GROUP, sender=BOT, message_id=41))
    got: list[str] = []
    bot = await started(tg, lambda message: got.append(message.text))
    await tg.receive(incoming("to the bot?", chat=GROUP, message_id=50, reply_to=41))
    mention = incoming("@ThisBot and then", chat=GROUP, sender=BOB, message_id=51, entities=MENTION)
    await tg.receive(mention)
    await tg.receive(incoming("meanwhile", message_id=52))  # Alice's private chat
    assert got == ["meanwhile"]  # the group waits for Telegram's answer; other chats do not
    tg.answer.set()
    await bot.stop()
    assert got == ["meanwhile", "to the bot?", "and then"]


async def test_a_failing_submit_does_not_stop_its_chat(caplog: pytest.LogCaptureFixture) -> None:
    tg = FakeTelegram()
    tg.store(incoming("an old answer", chat=GROUP, sender=BOT, message_id=41))
    got: list[str] = []

    def submit(message: Incoming) -> None:
        if message.text == "boom":
            raise RuntimeError("bug")
        got.append(message.text)

    bot = await started(tg, submit)
    await tg.receive_all(
        [
            # Checked with Telegram first: handed on from the chat's queue, as is the next.
            incoming("boom", chat=GROUP, message_id=50, reply_to=41),
            incoming("@ThisBot fine", chat=GROUP, message_id=51, entities=MENTION),
        ]
    )
    await bot.stop()
    assert got == ["fine"]
    assert f"reading message 50 of chat {GROUP_ID} failed" in caplog.text


async def test_a_sticker_gets_a_polite_answer_in_private_and_is_ignored_in_groups() -> None:
    tg = FakeTelegram()
    handled: list[Incoming] = []
    bot = await started(tg, handled.append)
    await tg.receive(incoming("", media=STICKER, message_id=5, sender=BOB))
    await tg.receive(incoming("", chat=GROUP, media=STICKER, message_id=6))
    # A reply to one of the bot's messages: Telegram flags it as mentioning the bot.
    await tg.receive(
        incoming("", chat=GROUP, media=STICKER, message_id=7, reply_to=3, mentioned=True)
    )
    await bot.close()  # waits for the adapter's own answers
    assert handled == []
    [private] = tg.sent()
    assert private.message.startswith("I can't use this kind of message (stickers")
    assert isinstance(private.peer, types.InputPeerUser)
    assert private.peer.user_id == BOB.id


async def test_a_group_reply_is_for_the_bot_only_if_it_replies_to_the_bot() -> None:
    tg = FakeTelegram()
    handled: list[str] = []

    def submit(message: Incoming) -> None:
        handled.append(message.text)

    bot = await started(tg, submit)
    [ours] = await bot._sink.send(GROUP_ID, "an answer of the bot")
    tg.store(incoming("a member's message", chat=GROUP, sender=BOB, message_id=40))
    tg.store(incoming("an old answer", chat=GROUP, sender=BOT, message_id=41))
    await tg.receive(incoming("to the bot, remembered", chat=GROUP, message_id=50, reply_to=ours))
    await tg.receive(incoming("to Bob", chat=GROUP, message_id=51, reply_to=40))
    await tg.receive(incoming("to the bot, fetched", chat=GROUP, message_id=52, reply_to=41))
    await bot.stop()
    assert handled == ["to the bot, remembered", "to the bot, fetched"]
    assert len(tg.of(functions.channels.GetMessagesRequest)) == 2  # not for the remembered one


async def test_refusals_are_answered_in_the_group_as_replies() -> None:
    tg = FakeTelegram()

    def submit(message: Incoming) -> None:
        raise AssertionError("not for the core")

    bot = await started(tg, submit)
    text = "@ThisBot hi"
    mention = types.MessageEntityMention(0, 8)
    await tg.receive(
        incoming(
            text,
            chat=GROUP,
            message_id=9,
            entities=[mention],
            from_peer=types.PeerChannel(GROUP.id),
        )
    )
    await bot.close()  # waits for the adapter's own answers
    [refusal] = tg.shown(GROUP_ID)
    assert "on behalf of a group or a channel" in refusal.message
    assert refusal.reply_to.reply_to_msg_id == 9


async def test_messages_before_start_are_not_taken() -> None:
    tg = FakeTelegram()
    handled: list[Incoming] = []
    bot = TelegramBot(tg, handled.append, sink=TelegramSink(tg))
    with pytest.raises(RuntimeError):
        _ = bot.identity
    await tg.receive(incoming("early"))  # no handler registered yet
    await bot.start()
    await tg.receive(incoming("on time", message_id=2))
    await bot.stop()
    assert [m.text for m in handled] == ["on time"]
