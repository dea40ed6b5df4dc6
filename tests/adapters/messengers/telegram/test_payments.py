"""The Stars adapter on the fake Telegram: a pre-checkout is answered even when the core cannot
decide in time, a payment in another currency or without a pack is not taken for Stars, the
payer is described by the update's own users, and a refund Telegram made already counts."""

from __future__ import annotations

import asyncio

import pytest
from telethon import errors
from telethon.tl import functions

from adapters.messengers.telegram.payments import PaymentUpdates, TelegramPayments, invoice_media
from core.errors import PaymentFailed
from core.values import Pack, Payment, Sender
from tests.adapters.messengers.telegram.fakes import ALICE, FakeTelegram

PACK = Pack(50, 100_000)


def updates(
    tg: FakeTelegram, decide: object, paid: list[Payment], wait: float = 5.0
) -> PaymentUpdates:
    return PaymentUpdates(tg, decide, paid.append, "en", wait=wait)  # type: ignore[arg-type]


async def test_a_pre_checkout_the_core_cannot_decide_in_time_is_refused_politely() -> None:
    tg = FakeTelegram()

    async def never(sender: Sender, chat: str, payload: str, stars: int) -> str:
        await asyncio.Event().wait()
        return ""

    payments = updates(tg, never, [], wait=0)
    payments.listen()
    await tg.receive_update(tg.precheckout(invoice_media(PACK, "t", ""), query_id=1))
    answer = tg.checkouts[1]
    assert answer.success is None
    assert "Бот занят" in answer.error  # Alice's client speaks Russian


async def test_a_pre_checkout_passes_the_payer_and_the_pack_to_the_core() -> None:
    tg = FakeTelegram()
    asked: list[tuple[Sender, str, str, int]] = []

    async def decide(sender: Sender, chat: str, payload: str, stars: int) -> str:
        asked.append((sender, chat, payload, stars))
        return ""

    updates(tg, decide, []).listen()
    await tg.receive_update(tg.precheckout(invoice_media(PACK, "t", ""), query_id=2))
    assert tg.checkouts[2].success is True
    [(sender, chat, payload, stars)] = asked
    assert (sender.id, sender.name, sender.username, chat) == (
        "100",
        "Alice Liddell",
        "alice",
        "100",
    )
    assert (payload, stars) == ("50:100000", 50)


async def test_a_payment_is_handed_over_with_its_charge_id() -> None:
    tg = FakeTelegram()
    paid: list[Payment] = []
    updates(tg, None, paid).listen()
    update = tg.payment(invoice_media(PACK, "t", ""), "stx1")
    await tg.receive_update(update)
    await tg.receive_update(update)
    assert [(p.charge_id, p.chat_id, p.sender.id, p.payload, p.stars) for p in paid] == [
        ("stx1", "100", "100", "50:100000", 50)
    ] * 2  # each delivery: the core credits once


async def test_a_payment_in_another_currency_is_not_taken_for_stars() -> None:
    tg = FakeTelegram()
    paid: list[Payment] = []
    updates(tg, None, paid).listen()
    update = tg.payment(invoice_media(PACK, "t", ""), "x")
    update.message.action.currency = "USD"
    await tg.receive_update(update)
    assert paid == []


async def test_refunds_and_a_refund_made_already() -> None:
    tg = FakeTelegram()
    payments = TelegramPayments(tg)
    await payments.refund(str(ALICE.id), "stx1")
    await payments.refund(str(ALICE.id), "stx1")  # CHARGE_ALREADY_REFUNDED: done
    assert tg.refunded == ["stx1"]


async def test_a_refund_telegram_refuses_is_a_payment_failure() -> None:
    tg = FakeTelegram()
    tg.fail(
        functions.payments.RefundStarsChargeRequest,
        lambda r: errors.rpcbaseerrors.BadRequestError(r, "CHARGE_ID_INVALID"),
    )
    with pytest.raises(PaymentFailed, match="CHARGE_ID_INVALID"):
        await TelegramPayments(tg).refund(str(ALICE.id), "nope")
