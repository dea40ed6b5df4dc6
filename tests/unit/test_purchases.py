"""Buying tokens with Stars, in the core on in-memory parts: /buy, the pre-checkout, a payment
credited once per charge id, /refund, and what each person is told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import pytest

from adapters.clock import FakeClock
from core.texts import number
from core.values import DayUsage, Pack, Payment, Picture, Sender
from tests.fakes import FailingDisk, RecordingPayments
from tests.media import png_bytes
from tests.unit.conftest import ADMIN, ALICE, BOB, Harness, make_harness

PACKS = (Pack(50, 100_000), Pack(250, 600_000))
ADMIN_SENDER = Sender(ADMIN, "Admin", None, "en")


def shop(**config: object) -> tuple[Harness, RecordingPayments]:
    payments = RecordingPayments()
    settings: dict[str, object] = {"star_packs": PACKS}
    settings.update(config)
    return make_harness(None, {"payments": payments}, **settings), payments


def payment(charge: str = "ch1", pack: Pack = PACKS[0], sender: Sender = ALICE) -> Payment:
    return Payment(charge, sender.id, sender, pack.payload, pack.stars)


async def test_buy_sends_one_invoice_per_pack() -> None:
    bot, payments = shop()
    await bot.say("/buy")
    assert [(chat, pack) for chat, pack, _ in payments.invoices] == [
        (ALICE.id, PACKS[0]),
        (ALICE.id, PACKS[1]),
    ]
    assert payments.invoices[0][2] == "100 000 tokens"
    assert "Packs of tokens for Stars" in bot.last()
    assert ("buy", "buy tokens with Stars") in bot.service.commands.menu("en")


async def test_a_messenger_without_payments_offers_nothing_to_buy() -> None:
    bot = make_harness(star_packs=PACKS)
    await bot.say("/buy")
    assert "cannot take payments" in bot.last()
    assert "buy" not in dict(bot.service.commands.menu("en"))
    assert "refund" not in dict(bot.service.commands.menu("en", admin=True))


async def test_no_packs_nothing_for_sale() -> None:
    bot, payments = shop(star_packs=())
    await bot.say("/buy")
    assert "Nothing is for sale" in bot.last()
    assert payments.invoices == []


async def test_the_pre_checkout_takes_a_known_pack_from_an_allowed_user() -> None:
    bot, _ = shop(allowed_users=("@alice",))
    service = bot.service
    assert await service.precheckout(ALICE, ALICE.id, "50:100000", 50) == ""
    assert "no longer available" in await service.precheckout(ALICE, ALICE.id, "50:999", 50)
    assert "no longer available" in await service.precheckout(ALICE, ALICE.id, "50:100000", 5)
    assert "no longer available" in await service.precheckout(ALICE, ALICE.id, "junk", 50)
    assert "не обслуживает" in await service.precheckout(BOB, BOB.id, "50:100000", 50)
    assert await service.precheckout(ADMIN_SENDER, ADMIN, "50:100000", 50) == ""
    assert bot.sink.sent == []  # a stranger asking to pay is not answered with a message
    service.request_stop()
    assert "restarting" in await service.precheckout(ALICE, ALICE.id, "50:100000", 50)


async def test_a_banned_user_cannot_pay() -> None:
    bot, _ = shop()
    await bot.say("hello")
    await bot.say(f"/ban {ALICE.id}", ADMIN_SENDER)
    assert "cannot take your payment" in await bot.service.precheckout(
        ALICE, ALICE.id, "50:100000", 50
    )


async def test_a_payment_is_credited_once_per_charge_id_and_thanked_each_time() -> None:
    bot, _ = shop(starting_balance=1_000)
    await bot.service.pay(payment())
    assert await bot.balance(ALICE.id) == 101_000
    assert bot.last().startswith("Thank you! 100 000 tokens were added for 50 ⭐")
    await bot.service.pay(payment())  # Telegram delivers the same update again
    assert await bot.balance(ALICE.id) == 101_000
    assert "credited already" in bot.last()
    await bot.service.pay(payment("ch2", PACKS[1]))
    assert await bot.balance(ALICE.id) == 701_000
    purchases = await bot.accounts.purchases(bot.service.clock.now().replace(year=2000))
    assert [(p.charge_id, p.stars, p.tokens) for p in purchases] == [
        ("ch1", 50, 100_000),
        ("ch2", 250, 600_000),
    ]
    await bot.service.notices.flush()
    assert (
        sum("bought 100 000 tokens for 50 ⭐ (charge ch1)" in n for n in bot.operator.notices) == 1
    )


async def test_a_payment_taken_while_stopping_is_still_credited() -> None:
    bot, _ = shop(starting_balance=0)
    bot.service.request_stop()
    await bot.service.pay(payment())
    assert await bot.balance(ALICE.id) == 100_000


async def test_a_payment_that_cannot_be_saved_is_told_to_the_payer_and_the_admin() -> None:
    bot, _ = shop(starting_balance=0)
    await bot.say("hello")
    disk = FailingDisk(bot.accounts)
    bot.use_accounts(disk)
    await bot.service.pay(payment())
    assert "could not be credited just now" in bot.last()
    await bot.service.notices.flush()
    assert any("could not be saved" in n and "ch1" in n for n in bot.operator.notices)
    disk.broken = False
    await bot.service.pay(payment())  # redelivered once the disk works: credited now, once
    assert await bot.balance(ALICE.id) == 100_000
    assert bot.last().startswith("Thank you!")


async def test_refund_gives_the_stars_back_and_takes_the_tokens_once() -> None:
    bot, payments = shop(starting_balance=0)
    await bot.service.pay(payment())
    await bot.say("/refund ch1", ADMIN_SENDER)
    assert payments.refunds == [(ALICE.id, "ch1")]
    assert await bot.balance(ALICE.id) == 0
    assert "Refunded 50 ⭐ to Alice @alice (100)" in bot.last()
    await bot.say("/refund ch1", ADMIN_SENDER)
    assert "refunded already" in bot.last()
    assert payments.refunds == [(ALICE.id, "ch1")]
    await bot.service.pay(payment())  # the old update again: no new credit
    assert await bot.balance(ALICE.id) == 0


async def test_a_refund_after_spending_leaves_the_balance_below_zero_and_says_so() -> None:
    bot, _ = shop(starting_balance=0)
    await bot.service.pay(payment())
    await bot.say(f"/topup {ALICE.id} -60000", ADMIN_SENDER)  # as if spent
    await bot.say("/refund ch1", ADMIN_SENDER)
    assert await bot.balance(ALICE.id) == -60_000
    assert "below zero" in bot.last()


async def test_a_refund_the_payment_system_refuses_takes_nothing_back() -> None:
    bot, payments = shop(starting_balance=0)
    await bot.service.pay(payment())
    payments.refusing = "CHARGE_NOT_FOUND"
    await bot.say("/refund ch1", ADMIN_SENDER)
    assert "failed: CHARGE_NOT_FOUND. Nothing was taken back." in bot.last()
    assert await bot.balance(ALICE.id) == 100_000


@pytest.mark.parametrize(
    ("words", "said"), [("/refund", "Usage: /refund"), ("/refund nope", "No purchase")]
)
async def test_refund_usage_and_unknown_charges(words: str, said: str) -> None:
    bot, _ = shop()
    await bot.say(words, ADMIN_SENDER)
    assert said in bot.last()


async def test_only_the_admin_refunds() -> None:
    bot, payments = shop()
    await bot.service.pay(payment())
    await bot.say("/refund ch1")
    assert payments.refunds == []


# -- the operator's view (/stats, /usage) --------------------------------------------------------


async def test_stats_shows_the_admin_tokens_and_stars_per_day() -> None:
    bot, _ = shop(starting_balance=100_000)
    await bot.say("hello")
    clock = bot.service.clock
    assert isinstance(clock, FakeClock)
    await bot.service.pay(payment())
    clock.advance(86_400)
    await bot.service.pay(payment("ch2", PACKS[1]))
    await bot.say("/refund ch2", ADMIN_SENDER)  # refunded Stars are not counted
    await bot.say("again")
    await bot.say("/stats", ADMIN_SENDER)
    stats = bot.last()
    charged = await bot.accounts.tokens_by_day(dt.date(2026, 1, 1))
    first, second = (day.isoformat() for day in sorted(charged))
    assert "Last 30 days (tokens, Stars):" in stats
    assert f"{first}: {number(charged[dt.date.fromisoformat(first)])}, 50 ⭐" in stats
    assert f"{second}: {number(charged[dt.date.fromisoformat(second)])}, 0 ⭐" in stats


async def test_stats_says_when_nothing_happened() -> None:
    bot, _ = shop()
    await bot.say("/stats", ADMIN_SENDER)
    assert "Last 30 days: no tokens charged, no Stars paid." in bot.last()


async def test_usage_sends_a_chart_of_the_last_days_to_the_admin() -> None:
    chart = RecordingChart()
    bot = make_harness(None, {"chart": chart}, starting_balance=100_000)
    await bot.say("hello")
    await bot.say("/usage", ADMIN_SENDER)
    [(days, title)] = chart.drawn
    assert len(days) == 30
    assert title == "Tokens and Stars per day, last 30 days"
    assert days[-1].tokens == sum(d.tokens for d in days) > 0
    sent = bot.sink.sent[-1]
    assert sent.picture
    assert sent.text.startswith("Last 30 days:")
    await bot.say("/usage", ADMIN_SENDER, chat_id="-500")
    assert "private chat" in bot.last()
    await bot.say("/usage")
    assert "admin" in bot.last()


async def test_usage_without_charts_says_so() -> None:
    bot = make_harness()
    await bot.say("/usage", ADMIN_SENDER)
    assert "matplotlib" in bot.last()


@attrs.define
class RecordingChart:
    drawn: list[tuple[list[DayUsage], str]] = attrs.field(factory=list)

    async def draw(self, days: Sequence[DayUsage], title: str, tokens: str, stars: str) -> Picture:
        self.drawn.append((list(days), title))
        return Picture(png_bytes(2, 2))
