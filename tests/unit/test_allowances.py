"""Allowances: at each period's start (midnight in the allowance's time zone) a balance below
the allowance is raised to it, once, lazily, durably before it is shown; top-ups above it are
kept; the books always balance."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.clock import FakeClock
from adapters.storage.memory.stores import MemoryAccountStore
from core.allowances import Period, next_start, period_of, refilled
from core.budget import Entry, Posting
from core.values import Account, Hold, Sender
from tests.fakes import FailingDisk
from tests.unit.conftest import ADMIN, ALICE, GROUP, Harness, make_harness

UTC = dt.UTC
ADMIN_SENDER = Sender(ADMIN, "Admin")


def at(text: str, zone: str = "UTC") -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def bot_at(moment: dt.datetime, **config: object) -> Harness:
    settings: dict[str, object] = {"allowance": 20_000, "starting_balance": 1_000}
    settings.update(config)
    bot = make_harness(None, None, **settings)
    clock(bot).current = moment
    return bot


def clock(bot: Harness) -> FakeClock:
    found = bot.service.clock
    assert isinstance(found, FakeClock)
    return found


@pytest.mark.parametrize(
    ("period", "zone", "before", "after", "names"),
    [
        # Midnight in Tokyo is 15:00 UTC the day before.
        (
            "day",
            "Asia/Tokyo",
            "2026-03-09T14:59:59",
            "2026-03-09T15:00:00",
            ("2026-03-09", "2026-03-10"),
        ),
        # Weeks start on Monday: Sunday 8 March 2026 to Monday 9 March, in New York (UTC-4
        # since the clocks went forward that Sunday).
        (
            "week",
            "America/New_York",
            "2026-03-09T03:59:59",
            "2026-03-09T04:00:00",
            ("2026-W10", "2026-W11"),
        ),
        # A year's last ISO week may belong to the next year.
        ("week", "UTC", "2026-12-27T23:59:59", "2026-12-28T00:00:00", ("2026-W52", "2026-W53")),
        # The month begins in Berlin an hour before it begins in UTC.
        (
            "month",
            "Europe/Berlin",
            "2026-01-31T22:59:59",
            "2026-01-31T23:00:00",
            ("2026-01", "2026-02"),
        ),
        ("month", "UTC", "2026-12-31T23:59:59", "2027-01-01T00:00:00", ("2026-12", "2027-01")),
    ],
)
def test_periods_begin_at_midnight_in_their_time_zone(
    period: str, zone: str, before: str, after: str, names: tuple[str, str]
) -> None:
    local = ZoneInfo(zone)
    first, second = at(before).astimezone(local), at(after).astimezone(local)
    assert (period_of(first, Period(period)), period_of(second, Period(period))) == names
    start = next_start(first, Period(period))
    assert start == second  # the next period begins exactly there
    assert (start.hour, start.minute) == (0, 0)


async def test_a_new_month_raises_a_low_balance_to_the_allowance_once() -> None:
    bot = bot_at(at("2026-01-31T23:00:00"), starting_balance=1_000, allowance=20_000)
    await bot.say("hi")  # registered, and refilled for January: 20 000, less the answer
    january = await bot.balance(ALICE.id)
    assert january == 20_000 - 15
    await bot.say("hi")
    assert await bot.balance(ALICE.id) == january - 15  # no second refill in January
    clock(bot).current = at("2026-02-01T00:00:00")
    await bot.say("/balance")
    assert bot.last().startswith("Your balance: 20 000 tokens.")
    assert (await bot.account(ALICE.id)).refilled == "2026-02"


async def test_the_allowance_does_not_accumulate_and_top_ups_above_it_are_kept() -> None:
    bot = bot_at(at("2026-01-10T12:00:00"), starting_balance=30_000, allowance=20_000)
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 30_000  # above the allowance: left alone
    clock(bot).current = at("2026-02-10T12:00:00")
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 30_000  # not 50 000
    await bot.say("/topup 100 -25000", sender=ADMIN_SENDER)
    await bot.say("/topup 100 40000", sender=ADMIN_SENDER)
    clock(bot).current = at("2026-03-01T00:00:00")
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 45_000


async def test_balance_shows_the_next_refill() -> None:
    bot = bot_at(at("2026-12-31T18:30:00"))
    await bot.say("/balance")
    assert bot.last() == "Your balance: 20 000 tokens.\nRefills to 20 000 on 1 Jan, 00:00 UTC."
    week = bot_at(at("2026-03-04T10:00:00"), allowance_period="week", allowance_tz="Europe/Berlin")
    await week.say("/balance", sender=Sender("300", "Pat", None, "ru"))
    assert week.last().endswith("Пополнение до 20 000: 9 мар, 00:00 CET.")


async def test_a_day_allowance_in_a_time_zone_refills_at_its_midnight() -> None:
    bot = bot_at(at("2026-06-01T14:00:00"), allowance_period="day", allowance_tz="Asia/Tokyo")
    await bot.say("hi")
    assert await bot.balance(ALICE.id) == 20_000 - 15
    clock(bot).current = at("2026-06-01T14:59:59")  # 23:59:59 in Tokyo: the same day
    await bot.say("hi")
    assert await bot.balance(ALICE.id) == 20_000 - 30
    clock(bot).current = at("2026-06-01T15:00:00")  # midnight in Tokyo
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 20_000
    assert (await bot.account(ALICE.id)).refilled == "2026-06-02"


async def test_a_naive_clock_is_read_as_local_time() -> None:
    """The system clock gives naive local time; it is placed in the allowance's zone as such."""
    bot = bot_at(dt.datetime(2026, 5, 5, 12, 0), allowance_period="month")
    await bot.say("/balance")
    assert (await bot.account(ALICE.id)).refilled == "2026-05"


async def test_the_admin_sets_a_persons_own_allowance() -> None:
    bot = bot_at(at("2026-01-10T12:00:00"))
    await bot.say("/balance")
    await bot.say("/allowance 100 50000", sender=ADMIN_SENDER)
    assert bot.last() == "Alice @alice (100) gets 50 000 tokens each month from the next refill on."
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 20_000  # this month was refilled already
    clock(bot).current = at("2026-02-01T00:00:00")
    await bot.say("/balance")
    assert await bot.balance(ALICE.id) == 50_000
    assert "Refills to 50 000 on 1 Mar" in bot.last()
    await bot.say("/topup 100 -45000", sender=ADMIN_SENDER)
    await bot.say("/allowance @ALICE 0", sender=ADMIN_SENDER)
    assert bot.last() == "Alice @alice (100) gets no allowance from now on."
    clock(bot).current = at("2026-03-01T00:00:00")
    await bot.say("/balance")
    assert bot.last() == "Your balance: 5 000 tokens."
    await bot.say("/allowance 100 default", sender=ADMIN_SENDER)
    assert "gets 20 000 tokens each month" in bot.last()
    await bot.say("/allowance 999 5", sender=ADMIN_SENDER)
    assert bot.last() == "User 999 has not written to the bot yet."
    await bot.say("/allowance 100 lots", sender=ADMIN_SENDER)
    assert bot.last().startswith("Usage: /allowance")


async def test_the_admin_is_never_refilled() -> None:
    bot = bot_at(at("2026-01-10T12:00:00"))
    await bot.say("/balance", sender=ADMIN_SENDER)
    assert (await bot.account(ADMIN)).refilled is None
    assert "Refills" not in bot.last()


async def test_without_an_allowance_nothing_is_written() -> None:
    bot = bot_at(at("2026-01-10T12:00:00"), allowance=0)
    await bot.say("/balance")
    assert bot.last() == "Your balance: 1 000 tokens."
    assert (await bot.account(ALICE.id)).refilled is None


async def test_a_refill_that_cannot_be_saved_is_not_shown() -> None:
    bot = bot_at(at("2026-01-10T12:00:00"))
    await bot.say("/start")  # registered and refilled for January
    clock(bot).current = at("2026-02-01T00:00:00")
    disk = FailingDisk(bot.accounts)
    bot.use_accounts(disk)
    await bot.say("/balance")
    assert "could not save your data" in bot.last()
    assert "20 000" not in bot.last()
    assert (await bot.account(ALICE.id)).refilled == "2026-01"
    disk.broken = False
    await bot.say("/balance")
    assert bot.last().startswith("Your balance: 20 000 tokens.")


# -- the books, under any interleaving ----------------------------------------------------------


@attrs.define
class Books:
    """An account store that records every change to a balance: top-ups and refills (credits)
    and charges (settlements and refunds)."""

    inner: MemoryAccountStore
    topups: int = 0
    refills: list[tuple[str, str, int, int]] = attrs.field(
        factory=list
    )  # who, period, before, after
    charged: int = 0
    turns: int = 0

    async def get(self, user_id: str) -> Account | None:
        await asyncio.sleep(0)  # as a real store's I/O would: other requests run meanwhile
        return await self.inner.get(user_id)

    async def settle(
        self, user_id: str, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        posted = await self.inner.settle(user_id, entry, release)
        if posted is not None and user_id != ADMIN:
            self.charged += posted.charged
        return posted

    async def change(self, user_id: str, change: Callable[[Account], Account]) -> Account | None:
        seen: list[tuple[Account, Account]] = []

        def recorded(current: Account) -> Account:
            changed = change(current)
            seen[:] = [(current, changed)]
            return changed

        # As a real store's I/O would, for a varying while: other requests run meanwhile (and
        # may charge between a stale read and a refill).
        self.turns += 1
        for _ in range(self.turns % 5):
            await asyncio.sleep(0)
        result = await self.inner.change(user_id, recorded)
        if seen:
            before, after = seen[0]
            if change.__qualname__.startswith(refilled.__name__ + "."):
                assert after.refilled is not None
                self.refills.append((user_id, after.refilled, before.balance, after.balance))
            else:
                self.topups += after.balance - before.balance
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@attrs.frozen
class Ask:
    group: bool


@attrs.frozen
class TopUp:
    tokens: int


@attrs.frozen
class Wait:
    hours: int


@attrs.frozen
class Together:
    asks: tuple[Ask, ...]


asks = st.builds(Ask, st.booleans())
steps = st.lists(
    st.one_of(
        asks,
        st.builds(TopUp, st.integers(1, 400)),
        st.builds(Wait, st.integers(0, 24 * 40)),
        st.builds(Together, st.lists(asks, min_size=2, max_size=4).map(tuple)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps,
    st.sampled_from(["day", "week", "month"]),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]),
    st.integers(0, 300),
    st.integers(0, 300),
)
def test_any_interleaving_keeps_the_books(
    played: list[object], period: str, zone: str, start: int, allowance: int
) -> None:
    """balance = start + credits (top-ups, refills) - charges; each refill raises a balance
    below the allowance exactly to it, at most once per person and period."""
    asyncio.run(_keep_books(played, period, zone, start, allowance))


async def _keep_books(
    played: list[object], period: str, zone: str, start: int, allowance: int
) -> None:
    bot = bot_at(
        at("2026-01-30T20:00:00"),
        starting_balance=start,
        allowance=allowance,
        allowance_period=period,
        allowance_tz=zone,
        reply_cap=40,
        min_reply_tokens=5,
    )
    books = Books(MemoryAccountStore())
    bot.use_accounts(books)  # type: ignore[arg-type]
    for step in played:
        match step:
            case Ask(group):
                await bot.say("hi", chat_id=GROUP if group else None)
            case TopUp(tokens):
                if await bot.accounts.get(ALICE.id) is not None:
                    await bot.say(f"/topup {ALICE.id} {tokens}", sender=ADMIN_SENDER)
            case Wait(hours):
                clock(bot).advance(hours * 3600)
            case Together(together):
                # A private chat and a group are served concurrently: their refills race.
                handled = [
                    bot.service.submit(bot.message("hi", chat_id=GROUP if ask.group else None))
                    for ask in together
                ]
                await asyncio.gather(*handled)
    account = await books.get(ALICE.id)
    if account is None:
        assert not played or all(isinstance(s, TopUp | Wait) for s in played)
        return
    credited = sum(after - before for _, _, before, after in books.refills)
    assert account.balance == start + books.topups + credited - books.charged
    periods = [(who, name) for who, name, before, after in books.refills if after != before]
    assert len(periods) == len(set(periods))  # credited at most once per person and period
    for _, _, before, after in books.refills:
        assert after in (before, max(before, allowance))  # to the allowance, never beyond
    assert account.tokens == books.charged
    local = clock(bot).current.astimezone(ZoneInfo(zone))
    if allowance and any(not isinstance(s, TopUp | Wait) for s in played):
        asked_last = [s for s in played if not isinstance(s, TopUp)]
        if asked_last and not isinstance(asked_last[-1], Wait):
            assert account.refilled == period_of(local, Period(period))
