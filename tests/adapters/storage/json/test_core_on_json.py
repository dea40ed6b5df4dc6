"""The core's property scenarios (tests/unit/test_properties.py) on the embedded stores the bot
really uses: data.json with its journal, and the SQLite reply chains. The same interleavings and
invariants as on the in-memory fakes and on PostgreSQL, each write fsynced."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from adapters.clock import FakeClock
from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.sqlite.threads import SqliteThreads
from tests.adapters.storage.json.test_contract import crash
from tests.unit.conftest import make_harness
from tests.unit.test_properties import _TWO_IN_FLIGHT, USERS, Scenario, play_on, scenarios

_runs = itertools.count(1)


async def play_on_files(scenario: Scenario, folder: Path) -> None:
    folder.mkdir()
    accounts = JsonAccounts.open(folder / "data.json", snapshot_every=7)  # rewrites mid-run
    threads = SqliteThreads.open(folder / "data.threads.db")
    try:
        await play_on(scenario, accounts, threads)
    finally:
        await threads.close()
        await accounts.close()
    # What was acknowledged is what a restart reads back.
    reopened = JsonAccounts.open(folder / "data.json")
    try:
        for user in USERS:
            assert await reopened.get(user) == await accounts.get(user)
        assert await reopened.totals() == await accounts.totals()
    finally:
        await reopened.close()


def test_two_requests_in_flight_cannot_overdraw_on_data_json(tmp_path: Path) -> None:
    asyncio.run(play_on_files(_TWO_IN_FLIGHT, tmp_path / "run"))


def test_invariants_hold_for_any_interleaving_on_data_json(tmp_path: Path) -> None:
    @settings(max_examples=25, suppress_health_check=list(HealthCheck))
    @given(scenarios())
    def check(scenario: Scenario) -> None:
        asyncio.run(play_on_files(scenario, tmp_path / f"run{next(_runs)}"))

    check()


async def test_a_refill_is_in_the_journal_before_it_is_shown(tmp_path: Path) -> None:
    """What /balance shows after a refill is what a crash right after it leaves on disk."""
    path = tmp_path / "data.json"
    path.write_text('{"global": {}, "100": {"requests": 0, "tokens": 0, "balance": 5}}')
    store = JsonAccounts.open(path)
    bot = make_harness(allowance=20_000, allowance_tz="Asia/Tokyo")
    bot.use_accounts(store)
    clock = bot.service.clock
    assert isinstance(clock, FakeClock)
    clock.current = dt.datetime(2026, 1, 31, 15, 0, tzinfo=dt.UTC)  # 1 February in Tokyo
    await bot.say("/balance")
    assert bot.last().startswith("Your balance: 20 000 tokens.")
    crash(store)
    again = JsonAccounts.open(path)
    refilled = await again.get("100")
    assert refilled is not None
    assert (refilled.balance, refilled.refilled) == (20_000, "2026-02")
    await again.close()
