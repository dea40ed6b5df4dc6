"""The access list, the accounts a page at a time, the allowance and voice fields, alike in every
account store (memory, data.json; PostgreSQL in postgres/test_access.py runs the same checks):
kept across a restart, changed atomically, and a failed change leaves nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.memory.stores import MemoryAccountStore
from core.errors import CorruptData, StorageError
from core.ports import AccountStore
from core.values import AccessList, Account
from tests.adapters.storage.json.test_contract import crash
from tests.adapters.storage.json.test_older_bot import older_bot_reads
from tests.small_disk import fill, small_disk


def allowing(entry: str) -> Callable[[AccessList], AccessList]:
    return lambda access: access.allowing(entry)


async def check_access_is_kept_and_changed_atomically(store: AccountStore) -> None:
    assert await store.access() == AccessList()
    seeded = await store.change_access(lambda a: a.seeded(frozenset({"5", "@ann"}), frozenset()))
    assert seeded.users == {"5", "@ann"}
    # Changes made at once all land: each applies to what the one before it left.
    await asyncio.gather(
        *(store.change_access(allowing(str(n))) for n in range(10)),
        store.change_access(lambda a: a.allowing("-100", chat=True)),
        store.change_access(lambda a: a.disallowing("@ANN")),
    )
    access = await store.access()
    assert access.users == {"5", *map(str, range(10))}
    assert access.chats == {"-100"}
    assert access.seeded_users == {"5", "@ann"}


async def check_pages_in_the_order_of_registration(store: AccountStore) -> None:
    for number in (30, 4, 200, 1):
        await store.register(Account(str(number), number))
    assert [a.user_id for a in await store.page(0, 3)] == ["30", "4", "200"]
    assert [a.user_id for a in await store.page(3, 3)] == ["1"]
    assert await store.page(4, 3) == []


async def check_allowance_fields_are_kept(store: AccountStore) -> None:
    await store.register(Account("7", 10, allowance=500, refilled="2026-W02"))
    await store.register(Account("8", 10))
    await store.change("8", lambda a: attrs.evolve(a, allowance=0, refilled="2026-01"))
    await store.change("7", lambda a: attrs.evolve(a, allowance=None))
    assert await store.get("7") == Account("7", 10, refilled="2026-W02")
    assert await store.get("8") == Account("8", 10, allowance=0, refilled="2026-01")


async def check_voice_is_kept(store: AccountStore) -> None:
    await store.register(Account("9", 10, voice=True))
    await store.register(Account("10", 10))
    await store.change("10", lambda a: attrs.evolve(a, voice=True))
    await store.change("9", lambda a: attrs.evolve(a, voice=False))
    assert await store.get("9") == Account("9", 10)
    assert await store.get("10") == Account("10", 10, voice=True)


async def check_search_flag_is_kept(store: AccountStore) -> None:
    await store.register(Account("7", 10))
    await store.register(Account("8", 10, search=True))
    await store.change("7", lambda a: attrs.evolve(a, search=True))
    await store.change("8", lambda a: attrs.evolve(a, search=False))
    assert await store.get("7") == Account("7", 10, search=True)
    assert await store.get("8") == Account("8", 10)


async def check_the_mode_is_kept(store: AccountStore) -> None:
    await store.register(Account("7", 10, mode="coder"))
    await store.register(Account("8", 10))
    await store.change("8", lambda a: attrs.evolve(a, mode="brief", prompt=None))
    await store.change("7", lambda a: attrs.evolve(a, mode=None))
    assert await store.get("7") == Account("7", 10)
    assert await store.get("8") == Account("8", 10, mode="brief")


CHECKS = (
    check_access_is_kept_and_changed_atomically,
    check_pages_in_the_order_of_registration,
    check_allowance_fields_are_kept,
    check_voice_is_kept,
    check_search_flag_is_kept,
    check_the_mode_is_kept,
)


async def test_the_memory_store_keeps_them() -> None:
    for check in CHECKS:
        await check(MemoryAccountStore())


async def test_data_json_keeps_them_across_a_crash_and_a_restart(tmp_path: Path) -> None:
    for number, check in enumerate(CHECKS):
        path = tmp_path / f"data{number}.json"
        store = JsonAccounts.open(path)
        await check(store)
        access, accounts = await store.access(), await store.page(0, 100)
        crash(store)  # the journal alone has them
        again = JsonAccounts.open(path)
        assert (await again.access(), await again.page(0, 100)) == (access, accounts)
        await again.close()  # and now data.json
        once_more = JsonAccounts.open(path)
        assert (await once_more.access(), await once_more.page(0, 100)) == (access, accounts)
        await once_more.close()


async def test_data_json_keeps_the_list_where_the_older_bot_does_not_look(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"global": {"requests": 1, "tokens": 2, "mine": [1]}, "5": {
        "requests": 1, "tokens": 2, "balance": 3, "username": "None", "blacklist": True,
        "later": {"kept": True}}}))  # fmt: skip
    store = JsonAccounts.open(path)
    await store.change_access(lambda a: a.allowing("5").allowing("@bo"))
    await store.change(
        "5", lambda a: attrs.evolve(a, allowance=9, refilled="2026-01-01", mode="tutor")
    )
    await store.close()
    written = json.loads(path.read_text())
    assert list(written) == ["global", "5"]  # no top-level key the older bot would take for a user
    assert written["global"]["mine"] == [1]
    assert written["global"]["access"]["users"] == ["5", "@bo"]
    assert written["5"]["blacklist"] is True
    assert written["5"]["later"] == {"kept": True}
    assert (written["5"]["allowance"], written["5"]["refilled"]) == (9, "2026-01-01")
    assert written["5"]["mode"] == "tutor"  # a key the older bot does not read
    assert set(older_bot_reads(path)) == {"5"}


async def test_data_json_keeps_voice_where_the_older_bot_ignores_it(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"5": {"balance": 3, "voice": False}, "6": {"balance": 4}}))
    store = JsonAccounts.open(path)
    assert (await store.get("5"), await store.get("6")) == (Account("5", 3), Account("6", 4))
    await store.change("6", lambda a: attrs.evolve(a, voice=True))
    await store.close()
    written = json.loads(path.read_text())
    assert written["5"]["voice"] is False  # kept as it was read
    assert written["6"]["voice"] is True
    assert set(older_bot_reads(path)) == {"5", "6"}


async def test_data_json_refuses_a_voice_that_is_no_yes_or_no(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"5": {"balance": 3, "voice": "yes"}}))
    with pytest.raises(CorruptData, match="'voice' must be true or false"):
        JsonAccounts.open(path)


async def test_a_full_disk_leaves_the_list_as_it_was(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "data.json"
        store = JsonAccounts.open(path)
        await store.change_access(lambda a: a.allowing("5"))
        filler = fill(disk, 0)
        with pytest.raises(StorageError, match="cannot save"):
            await store.change_access(lambda a: a.allowing("x" * 20_000))
        assert (await store.access()).users == {"5"}  # memory as it was
        filler.unlink()
        await store.change_access(lambda a: a.allowing("6"))
        crash(store)
        again = JsonAccounts.open(path)
        assert (await again.access()).users == {"5", "6"}
        await again.close()


async def test_data_json_writes_search_only_when_on(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(Account("5", 10, search=True))
    await store.register(Account("6", 10))
    await store.close()
    written = json.loads(path.read_text())
    assert written["5"]["search"] is True
    assert "search" not in written["6"]
    assert set(older_bot_reads(path)) == {"5", "6"}


async def test_data_json_refuses_a_search_flag_that_is_not_true_or_false(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"5": {"requests": 1, "tokens": 2, "balance": 3, "search": "yes"}}))
    with pytest.raises(StorageError, match="search"):
        JsonAccounts.open(path)
