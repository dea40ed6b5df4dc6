"""The access list, pages of accounts and the allowance fields on PostgreSQL: the checks every
store passes (tests/adapters/storage/test_access.py), kept across a new connection, and two
processes changing the list at once lose neither change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.transfer import export_data_json
from core.ports import AccountStore
from core.values import Account
from tests.adapters.storage.test_access import CHECKS, allowing

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_postgresql_keeps_them(
    database_url: str, check: Callable[[AccountStore], Awaitable[None]]
) -> None:
    store = await PostgresAccountStore.open(database_url, pool_size=2)
    try:
        await check(store)
        access, accounts = await store.access(), await store.page(0, 100)
    finally:
        await store.close()
    again = await PostgresAccountStore.open(database_url, pool_size=2)
    try:
        assert (await again.access(), await again.page(0, 100)) == (access, accounts)
    finally:
        await again.close()


async def test_two_processes_changing_the_list_at_once_keep_both(database_url: str) -> None:
    first = await PostgresAccountStore.open(database_url, pool_size=3)
    second = await PostgresAccountStore.open(database_url, pool_size=3)
    try:
        await asyncio.gather(
            *((first if n % 2 else second).change_access(allowing(str(n))) for n in range(20))
        )
        assert (await first.access()).users == {str(n) for n in range(20)}
    finally:
        await first.close()
        await second.close()


async def test_the_export_carries_the_list_the_allowances_and_voice(
    database_url: str, tmp_path: Path
) -> None:
    store = await PostgresAccountStore.open(database_url, pool_size=2)
    try:
        await store.register(Account("5", 10, allowance=7, refilled="2026-02", search=True))
        await store.register(Account("6", 11, voice=True, mode="coder"))
        await store.change_access(lambda a: a.allowing("@ann").allowing("-100", chat=True))
        access = await store.access()
    finally:
        await store.close()
    path = tmp_path / "data.json"
    await export_data_json(database_url, path)
    exported = JsonAccounts.open(path)
    assert await exported.access() == access
    assert await exported.get("5") == Account("5", 10, allowance=7, refilled="2026-02", search=True)
    assert await exported.get("6") == Account("6", 11, voice=True, mode="coder")
    await exported.close()
