"""The "Try again" button under a failed answer, on the fake Telegram around the real core: the
press is a callback query, answered, and the core answers the message again, charged anew."""

from __future__ import annotations

import re

from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import TELEGRAM_LIMITS, UNLIMITED, Limits
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core import errors
from core.config import BotConfig
from core.tokens import CharTokenCounter
from core.values import Usage
from entrypoints.bootstrap import Bot, assemble
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    GROUP,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    incoming,
)
from tests.fakes import ScriptedModel

START = 30_000


def bot_on(
    tg: FakeTelegram, model: ScriptedModel, limits: Limits = TELEGRAM_LIMITS
) -> tuple[Bot, TelegramBot, TelegramSink]:
    ticker = Ticker()
    sink = TelegramSink(tg, limits=limits, clock=ticker, sleep=ticker.sleep)
    replies = TelegramReplies(sink)
    app = assemble(
        BotConfig(admin_id="1", notify_new_users=False),  # the footer on: charges are shown
        sink=replies,
        lookup=replies,
        accounts=MemoryAccountStore(),
        threads=MemoryThreadStore(),
        model=model,
        counter=CharTokenCounter(),
        clock=FakeClock(),
    )
    return app, TelegramBot(tg, app.service.submit, sink=sink), sink


def shown_charges(messages: list[types.Message]) -> list[int]:
    return [
        int(n) for m in messages for n in re.findall(r"Израсходовано токенов: (\d+)", m.message)
    ]


def button_data(message: types.Message) -> bytes:
    markup = message.reply_markup
    assert isinstance(markup, types.ReplyInlineMarkup)
    [row] = markup.rows
    [button] = row.buttons
    assert isinstance(button.type, types.InlineButtonTypeCallback)
    assert button.text == "Попробовать ещё раз"
    return bytes(button.type.data)


async def test_the_button_under_a_failed_answer_answers_again_in_private() -> None:
    tg = FakeTelegram()
    model = ScriptedModel(usage=Usage(10, 5), fail_with=[errors.ModelUnavailable("503")])
    # Three messages in one private chat: Telegram's one a second would make it wait 2 s for
    # real (the pacer runs on the loop's clock, not the ticker); pacing is test_pacing's.
    app, bot, sink = bot_on(tg, model, UNLIMITED)
    await bot.start()

    await tg.receive(incoming("What is 2+2?", message_id=10))
    await app.service.drain()
    [failed] = tg.shown(ALICE.id)
    assert button_data(failed) == b"/retry 10"
    assert (await app.accounts.get(str(ALICE.id))).balance == START  # type: ignore[union-attr]

    await tg.press(failed)
    await app.service.drain()
    [answered] = tg.of(functions.messages.SetBotCallbackAnswerRequest)
    assert answered.query_id  # the press was answered: the button stops spinning
    failed_again, answer = tg.shown(ALICE.id)
    assert failed_again.id == failed.id
    assert answer.message.startswith("Hello, world")
    assert answer.reply_to.reply_to_msg_id == 10  # the message it answers again
    assert answer.reply_markup is None
    assert model.requests[0].turns == model.requests[1].turns

    # Pressed again: another answer, another charge; every charge shown is a charge saved.
    await tg.press(failed)
    await app.service.drain()
    await bot.close()
    sink.close()
    charges = shown_charges(tg.shown(ALICE.id))
    assert charges == [15, 15]
    account = await app.accounts.get(str(ALICE.id))
    assert account is not None
    assert (account.tokens, account.balance) == (sum(charges), START - sum(charges))


async def test_in_a_group_the_button_sits_on_the_edited_answer_and_is_the_senders() -> None:
    tg = FakeTelegram()
    model = ScriptedModel(
        usage=Usage(10, 5), fail_with=[errors.ConnectionLost("reset")], fail_after_text=True
    )
    app, bot, sink = bot_on(tg, model)
    await bot.start()
    command = [types.MessageEntityBotCommand(0, len("/retry@ThisBot"))]
    await tg.receive(incoming("/retry@ThisBot", chat=GROUP, message_id=19, entities=command))
    mention = [types.MessageEntityMention(0, len("@thisbot"))]
    await tg.receive(incoming("@thisbot greet me", chat=GROUP, message_id=20, entities=mention))
    await app.service.drain()
    nothing, failed = tg.shown(GROUP_ID)
    assert "не на что ответить" in nothing.message  # no message of hers yet
    assert failed.message.startswith("Hello, world")  # what was streamed stays, unpaid
    assert button_data(failed) == b"/retry 20"

    await tg.press(failed, sender=BOB)  # not Bob's message: nothing is answered for him
    await app.service.drain()
    assert len(model.requests) == 1
    await tg.press(failed)
    await app.service.drain()
    await bot.close()
    sink.close()
    answer = tg.shown(GROUP_ID)[-1]
    assert answer.reply_to.reply_to_msg_id == 20
    assert shown_charges([answer]) == [15]
    account = await app.accounts.get(str(ALICE.id))
    assert account is not None
    assert account.balance == START - 15
