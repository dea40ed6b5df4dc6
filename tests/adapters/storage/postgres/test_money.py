"""Two stores, two processes, processes killed mid-load: never overdrawn, nothing charged
twice or lost, totals equal to the sum over the accounts."""

from __future__ import annotations

import asyncio
import os
import random
import signal

import attrs
import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from core.values import Account
from tests.adapters.storage.postgres.helpers import start_worker
from tests.fakes import Spend

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # slow: processes killed under load

USERS = 5
START = 2_000


async def seed(store: PostgresAccountStore, users: int = USERS) -> None:
    for user in range(users):
        await store.register(Account(user_id=str(user), balance=START))


async def spend(store: PostgresAccountStore, rounds: int) -> None:
    """Hold and settle, charging the whole hold: any hold granted beyond the balance
    shows up as a negative balance."""
    for _ in range(rounds):
        user = str(random.randrange(USERS))
        hold = await store.hold(user, 10, 100)
        if hold is None:
            continue
        await store.settle(user, Spend(hold.amount), hold)


async def top_up(store: PostgresAccountStore, times: int, given: dict[str, int]) -> None:
    """The admin adds tokens in between (no totals: a top-up is no request)."""
    for _ in range(times):
        user = str(random.randrange(USERS))
        await store.change(user, lambda a: attrs.evolve(a, balance=a.balance + 37))
        given[user] = given.get(user, 0) + 37
        await asyncio.sleep(0)


def check_books(url: str, given: dict[str, int], users: int = USERS) -> None:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT id, balance, held, requests, tokens FROM accounts")
        accounts = {row[0]: row[1:] for row in rows.fetchall()}
        totals = connection.execute("SELECT sum(requests), sum(tokens) FROM totals").fetchone()
        holds = connection.execute("SELECT count(*) FROM holds").fetchone()
    assert len(accounts) == users
    for user, (balance, held, _requests, tokens) in accounts.items():
        assert balance >= 0, f"account {user} overdrawn"
        assert held == 0
        assert balance == START + given.get(user, 0) - tokens, f"account {user} lost a change"
    assert totals == (
        sum(a[2] for a in accounts.values()),
        sum(a[3] for a in accounts.values()),
    )
    assert holds == (0,)


async def test_two_stores_on_one_database_never_overdraw(database_url):
    first = await PostgresAccountStore.open(database_url)
    second = await PostgresAccountStore.open(database_url)
    given: dict[str, int] = {}
    try:
        await seed(first)
        await asyncio.gather(
            *(spend(store, 25) for store in (first, second) for _ in range(12)),
            top_up(first, 40, given),
            top_up(second, 40, given),
        )
    finally:
        await first.close()
        await second.close()
    check_books(database_url, given)


async def test_two_processes_and_the_admin_never_overdraw(database_url):
    store = await PostgresAccountStore.open(database_url)
    given: dict[str, int] = {}
    try:
        await seed(store)
        workers = [start_worker("load", database_url, str(USERS), "40", "600") for _ in range(2)]
        await top_up(store, 60, given)
        for worker in workers:
            out, _ = await asyncio.to_thread(worker.communicate, timeout=120)
            assert worker.returncode == 0
            assert "done" in out
    finally:
        await store.close()
    check_books(database_url, given)


async def test_processes_killed_mid_load_lose_nothing_and_charge_nothing_twice(database_url):
    store = await PostgresAccountStore.open(database_url)
    try:
        await seed(store, 50)
        for _ in range(int(os.environ.get("GPTBOT_PG_KILLS", "20"))):
            worker = start_worker("load", database_url, "50", "100000", "0.5")
            assert worker.stdout is not None
            assert await asyncio.to_thread(worker.stdout.readline) == "ready\n"
            await asyncio.sleep(random.uniform(0, 0.05))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        # The dead processes' leases end (moved to the past, not waited out), then their
        # holds are given back.
        with psycopg.connect(database_url) as connection:
            connection.execute("UPDATE holds SET expires_at = now() - interval '1 second'")
        await store.expire_holds()
    finally:
        await store.close()
    check_books(database_url, {}, 50)
