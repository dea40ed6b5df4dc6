"""The runner: Telethon events in, one chat at a time, many chats at once."""

from __future__ import annotations

import asyncio
import random

import pytest
from telethon.tl import functions, types

from adapters.telegram.bot import TelegramBot
from adapters.telegram.incoming import BotIdentity
from adapters.telegram.sink import TelegramSink
from core.values import Incoming
from tests.adapters.telegram.fakes import ALICE, BOB, BOT, GROUP, GROUP_ID, FakeTelegram, incoming

STICKER = types.MessageMediaDocument(document=types.DocumentEmpty(id=1))


async def started(tg: FakeTelegram, handle: object, **options: object) -> TelegramBot:
    bot = TelegramBot(tg, handle, sink=TelegramSink(tg), **options)  # type: ignore[arg-type]
    await bot.start()
    return bot


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_start_learns_who_the_bot_is_and_publishes_the_menu() -> None:
    tg = FakeTelegram()
    menu = {"": [("help", "Help"), ("balance", "Balance")], "ru": [("help", "Помощь")]}

    async def handle(message: Incoming) -> None:
        pass

    bot = await started(tg, handle, commands=menu)
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

    async def handle(message: Incoming) -> None:
        got.append(message)

    bot = await started(tg, handle, commands={"": [("help", "Help")]})
    await tg.receive(incoming("hi"))
    await bot.stop()
    assert [m.text for m in got] == ["hi"]


async def test_messages_of_one_chat_are_handled_in_order_and_chats_concurrently() -> None:
    tg = FakeTelegram()
    rng = random.Random(7)
    running: dict[int, int] = {}
    overlap = 0
    handled: dict[int, list[str]] = {}

    async def handle(message: Incoming) -> None:
        nonlocal overlap
        running[message.chat_id] = running.get(message.chat_id, 0) + 1
        assert running[message.chat_id] == 1, "two messages of one chat at once"
        overlap = max(overlap, sum(running.values()))
        for _ in range(rng.randint(0, 5)):
            await asyncio.sleep(0)
        handled.setdefault(message.chat_id, []).append(message.text)
        running[message.chat_id] -= 1

    bot = await started(tg, handle)
    chats = {ALICE.id: (None, ALICE), BOB.id: (None, BOB), -1000000000777: (GROUP, ALICE)}
    messages = []
    for number in range(60):
        chat_id = rng.choice(list(chats))
        chat, sender = chats[chat_id]
        text = f"{chat_id}:{number}"
        entities = None
        if chat is not None:  # in the group, the bot must be mentioned
            text, entities = f"@ThisBot {text}", [types.MessageEntityMention(0, 8)]
        messages.append(
            incoming(text, chat=chat, sender=sender, message_id=number, entities=entities)
        )
    await tg.receive_all(messages)
    await bot.stop()
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

    async def handle(message: Incoming) -> None:
        events.append("start " + message.text)
        if message.text == "a1":
            await gate.wait()
        events.append("end " + message.text)

    bot = await started(tg, handle)
    await tg.receive_all(
        [
            incoming("a1", message_id=1),
            incoming("a2", message_id=2),
            incoming("b1", sender=BOB, message_id=3),
        ]
    )
    await settle()
    assert events == ["start a1", "start b1", "end b1"]
    gate.set()
    await bot.stop()
    assert events[3:] == ["end a1", "start a2", "end a2"]


async def test_stop_waits_for_messages_in_flight_and_answers_new_ones_it_is_shutting_down() -> None:
    tg = FakeTelegram()
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(message: Incoming) -> None:
        await gate.wait()
        handled.append(message.text)

    bot = await started(tg, handle)
    await tg.receive(incoming("before"))
    stopping = asyncio.create_task(bot.stop())
    await settle()
    assert not stopping.done()
    await tg.receive(incoming("after", message_id=2))  # Alice's client speaks Russian
    await tg.receive(incoming("after", sender=BOB, message_id=3))
    await tg.receive(incoming("not for the bot", chat=GROUP, message_id=4))
    gate.set()
    await stopping
    await bot.close()
    assert handled == ["before"]
    assert [m.message for m in tg.shown(ALICE.id)] == ["Бот выключается. Попробуйте через минуту."]
    assert [m.message for m in tg.shown(BOB.id)] == [
        "The bot is shutting down. Please try again in a minute."
    ]
    assert tg.shown(GROUP_ID) == []


async def test_a_failing_handler_does_not_stop_its_chat(caplog: pytest.LogCaptureFixture) -> None:
    tg = FakeTelegram()
    handled: list[str] = []

    async def handle(message: Incoming) -> None:
        if message.text == "boom":
            raise RuntimeError("bug")
        handled.append(message.text)

    bot = await started(tg, handle)
    await tg.receive_all([incoming("boom"), incoming("fine", message_id=2)])
    await bot.stop()
    assert handled == ["fine"]
    assert "handling message 1 of chat" in caplog.text


async def test_a_sticker_gets_a_polite_answer_in_private_and_is_ignored_in_groups() -> None:
    tg = FakeTelegram()
    handled: list[Incoming] = []

    async def handle(message: Incoming) -> None:
        handled.append(message)

    bot = await started(tg, handle)
    await tg.receive(incoming("", media=STICKER, message_id=5, sender=BOB))
    await tg.receive(incoming("", chat=GROUP, media=STICKER, message_id=6))
    # A reply to one of the bot's messages: Telegram flags it as mentioning the bot.
    await tg.receive(
        incoming("", chat=GROUP, media=STICKER, message_id=7, reply_to=3, mentioned=True)
    )
    await bot.stop()
    assert handled == []
    [private] = tg.sent()
    assert private.message.startswith("I can only read text")
    assert isinstance(private.peer, types.InputPeerUser)
    assert private.peer.user_id == BOB.id


async def test_a_group_reply_is_for_the_bot_only_if_it_replies_to_the_bot() -> None:
    tg = FakeTelegram()
    handled: list[str] = []

    async def handle(message: Incoming) -> None:
        handled.append(message.text)

    bot = await started(tg, handle)
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

    async def handle(message: Incoming) -> None:
        raise AssertionError("not for the core")

    bot = await started(tg, handle)
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
    await bot.stop()
    [refusal] = tg.shown(GROUP_ID)
    assert "on behalf of a group or a channel" in refusal.message
    assert refusal.reply_to.reply_to_msg_id == 9


async def test_messages_before_start_are_not_taken() -> None:
    tg = FakeTelegram()
    handled: list[Incoming] = []

    async def handle(message: Incoming) -> None:
        handled.append(message)

    bot = TelegramBot(tg, handle, sink=TelegramSink(tg))
    with pytest.raises(RuntimeError):
        _ = bot.identity
    await tg.receive(incoming("early"))  # no handler registered yet
    await bot.start()
    await tg.receive(incoming("on time", message_id=2))
    await bot.stop()
    assert [m.text for m in handled] == ["on time"]
