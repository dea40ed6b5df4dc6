"""Purchases on PostgreSQL: the checks every store passes (tests/adapters/storage/
test_purchases.py), two processes given the same payment credit it once, and import and
export carry the purchases between data.json and the purchases table."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.transfer import export_data_json, import_data_json
from core.ports import AccountStore
from core.values import Account
from tests.adapters.storage.test_purchases import AT, CHECKS, bought, everything

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_postgresql_passes_them(
    database_url: str, check: Callable[[AccountStore], Awaitable[None]]
) -> None:
    store = await PostgresAccountStore.open(database_url, pool_size=4)
    try:
        await check(store)
        kept = await everything(store, AT - dt.timedelta(days=30))
    finally:
        await store.close()
    again = await PostgresAccountStore.open(database_url, pool_size=2)
    try:
        assert await everything(again, AT - dt.timedelta(days=30)) == kept
    finally:
        await again.close()


async def test_two_processes_given_the_same_payment_credit_it_once(database_url: str) -> None:
    # Two stores, each with its own connections: to the database, two processes.
    first = await PostgresAccountStore.open(database_url, pool_size=4)
    second = await PostgresAccountStore.open(database_url, pool_size=4)
    try:
        await first.register(Account("5", 0))
        charges = [f"ch{n}" for n in range(10)]
        results = await asyncio.gather(
            *(store.credit(bought(charge)) for charge in charges for store in (first, second))
        )
        assert results.count(True) == len(charges)
        assert (await second.get("5")) == Account("5", 1_000 * len(charges))
        refunds = await asyncio.gather(
            *(store.take_back("ch0", AT) for store in (first, second, first))
        )
        assert refunds.count(True) == 1
        assert (await first.get("5")) == Account("5", 1_000 * (len(charges) - 1))
    finally:
        await first.close()
        await second.close()


async def test_import_and_export_carry_the_purchases(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    store = JsonAccounts.open(source)
    await store.register(Account("5", 0))
    await store.credit(bought("a"))
    await store.credit(bought("b", at=AT + dt.timedelta(minutes=1)))
    await store.take_back("b", AT + dt.timedelta(hours=1))
    await store.close()
    assert await import_data_json(database_url, source) == 1
    database = await PostgresAccountStore.open(database_url, pool_size=2)
    try:
        assert await database.credit(bought("a")) is False  # known there too: never twice
        imported = await database.purchases(AT)
    finally:
        await database.close()
    back = tmp_path / "back.json"
    await export_data_json(database_url, back)
    exported = JsonAccounts.open(back)
    try:
        assert await exported.purchases(AT) == imported
        assert [p.charge_id for p in imported] == ["a", "b"]
        assert imported[1].refunded_at == AT + dt.timedelta(hours=1)
        assert (await exported.get("5")) == Account("5", 1_000)
    finally:
        await exported.close()
