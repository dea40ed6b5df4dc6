"""Purchases and the tokens tallied by day, alike in every account store (memory, data.json;
PostgreSQL in postgres/test_purchases.py runs the same checks): a charge is credited once
however often and however concurrently it is reported, a refund takes it back once, each charge
counts in its day's tally, all kept across a crash and a restart; data.json keeps them where the
older bot does not look."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.memory.stores import MemoryAccountStore
from core.budget import Refund, Settlement
from core.errors import StorageError
from core.ports import AccountStore
from core.values import Account, Purchase, Usage
from tests.adapters.storage.json.test_contract import crash
from tests.adapters.storage.json.test_older_bot import older_bot_reads
from tests.small_disk import fill, small_disk

AT = dt.datetime(2026, 1, 5, 10, 11, 12)


def bought(charge: str, user: str = "5", tokens: int = 1_000, at: dt.datetime = AT) -> Purchase:
    return Purchase(charge, user, 50, tokens, at)


async def check_a_charge_is_credited_once(store: AccountStore) -> None:
    await store.register(Account("5", 10))
    results = await asyncio.gather(*(store.credit(bought("a")) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await store.credit(bought("a", tokens=999_999)) is False  # the first one stands
    assert (await store.get("5")) == Account("5", 1_010)
    assert await store.purchase("a") == bought("a")
    assert await store.purchase("b") is None


async def check_a_refund_takes_the_tokens_back_once(store: AccountStore) -> None:
    await store.register(Account("5", 0))
    await store.credit(bought("a", tokens=300))
    later = AT + dt.timedelta(hours=1)
    results = await asyncio.gather(*(store.take_back("a", later) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert await store.take_back("nothing", later) is False
    assert (await store.get("5")) == Account("5", 0)
    assert await store.purchase("a") == Purchase("a", "5", 50, 300, AT, later)
    assert await store.credit(bought("a", tokens=300)) is False  # refunded stays refunded
    assert (await store.get("5")) == Account("5", 0)


async def check_a_refund_may_leave_a_balance_below_zero(store: AccountStore) -> None:
    await store.register(Account("5", 0))
    await store.credit(bought("a", tokens=300))
    await store.change("5", lambda a: Account("5", a.balance - 200))  # spent
    assert await store.take_back("a", AT) is True
    assert (await store.get("5")) == Account("5", -200)


async def check_purchases_since_oldest_first(store: AccountStore) -> None:
    await store.register(Account("5", 0))
    await store.register(Account("6", 0))
    day = dt.timedelta(days=1)
    for charge, user, at in (("c", "5", AT + day), ("a", "6", AT), ("b", "5", AT - day)):
        await store.credit(bought(charge, user, at=at))
    assert [p.charge_id for p in await store.purchases(AT)] == ["a", "c"]
    assert [p.charge_id for p in await store.purchases(AT - 2 * day)] == ["b", "a", "c"]


async def check_an_unknown_payer_is_refused(store: AccountStore) -> None:
    with pytest.raises(StorageError):
        await store.credit(bought("a", user="404"))
    assert await store.purchase("a") is None


async def check_tokens_are_tallied_by_day_with_each_charge(store: AccountStore) -> None:
    await store.register(Account("5", 1_000))
    await store.register(Account("6", 1_000))
    monday, tuesday = AT, AT + dt.timedelta(days=1)
    await asyncio.gather(
        store.settle("5", Settlement(Usage(30, 0), 100, monday)),
        store.settle("6", Settlement(Usage(40, 2), 100, monday)),
        store.settle("5", Settlement(Usage(5, 0), 100, tuesday)),
    )
    await store.settle("6", Refund(42, admin=False, now=tuesday))  # counts on its own day
    await store.settle("6", Refund(1, admin=False))  # no day: not tallied
    assert await store.tokens_by_day(monday.date()) == {monday.date(): 72, tuesday.date(): -37}
    assert await store.tokens_by_day(tuesday.date()) == {tuesday.date(): -37}


CHECKS = (
    check_a_charge_is_credited_once,
    check_a_refund_takes_the_tokens_back_once,
    check_a_refund_may_leave_a_balance_below_zero,
    check_purchases_since_oldest_first,
    check_an_unknown_payer_is_refused,
    check_tokens_are_tallied_by_day_with_each_charge,
)


async def everything(store: AccountStore, since: dt.datetime) -> object:
    return (
        await store.purchases(since),
        await store.page(0, 100),
        await store.tokens_by_day(since.date()),
    )


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_the_memory_store(check: object) -> None:
    await check(MemoryAccountStore())  # type: ignore[operator]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_data_json_across_a_crash_and_a_restart(tmp_path: Path, check: object) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await check(store)  # type: ignore[operator]
    since = AT - dt.timedelta(days=30)
    kept = await everything(store, since)
    crash(store)  # the journal alone has them
    again = JsonAccounts.open(path)
    assert await everything(again, since) == kept
    await again.close()  # and now data.json
    once_more = JsonAccounts.open(path)
    assert await everything(once_more, since) == kept
    for purchase in await once_more.purchases(since):  # still credited, and never again
        assert await once_more.credit(purchase) is False
    await once_more.close()


async def test_data_json_keeps_them_where_the_older_bot_does_not_look(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"global": {"requests": 1, "tokens": 2, "mine": [1]}, "5": {
        "requests": 1, "tokens": 2, "balance": 3, "username": "None"}}))  # fmt: skip
    store = JsonAccounts.open(path)
    await store.credit(bought("ch-1"))
    await store.close()
    written = json.loads(path.read_text())
    assert list(written) == ["global", "5"]  # no top-level key the older bot would take for a user
    assert written["global"]["mine"] == [1]
    assert written["global"]["purchases"] == {
        "ch-1": {
            "user": "5",
            "stars": 50,
            "tokens": 1_000,
            "at": "2026-01-05 10:11:12",
            "refunded_at": None,
        }
    }
    assert written["5"]["balance"] == 1_003
    assert set(older_bot_reads(path)) == {"5"}


async def test_a_full_disk_credits_nothing_and_the_charge_can_come_again(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "data.json"
        store = JsonAccounts.open(path)
        await store.register(Account("5", 10))
        filler = fill(disk, 0)
        charge = "a" * 10_000  # more than the journal's last page has room for
        with pytest.raises(StorageError, match="cannot save"):
            await store.credit(bought(charge, tokens=1_000))
        assert (await store.get("5"), await store.purchase(charge)) == (Account("5", 10), None)
        filler.unlink()
        assert await store.credit(bought(charge, tokens=1_000)) is True
        crash(store)
        again = JsonAccounts.open(path)
        assert (await again.get("5")) == Account("5", 1_010)
        await again.close()


async def test_a_report_seeing_a_credit_still_being_written_waits_for_its_outcome(
    tmp_path: Path,
) -> None:
    # The second report finds the charge in memory while the first one's write is failing:
    # it must not answer "credited already" for a credit that is then undone.
    with small_disk(tmp_path / "disk") as disk:
        store = JsonAccounts.open(disk / "data.json")
        await store.register(Account("5", 10))
        filler = fill(disk, 0)
        charge = "a" * 10_000
        first = asyncio.ensure_future(store.credit(bought(charge)))
        await asyncio.sleep(0)  # the first is applied in memory and being written
        second = asyncio.ensure_future(store.credit(bought(charge)))
        with pytest.raises(StorageError):
            await first
        filler.unlink()
        try:
            credited = await second  # never "credited already": the first was undone
        except StorageError:  # it came while the disk was still full
            credited = await store.credit(bought(charge))
        assert credited is True
        assert (await store.get("5")) == Account("5", 1_010)
        await store.close()
