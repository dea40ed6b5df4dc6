"""The account store (text ids, holds, atomic settle and change), on data.json and in memory,
and all or nothing when the disk is full: memory included."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import attrs
import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.memory.stores import MemoryAccountStore
from core.errors import StorageError
from core.values import Account, Totals
from tests.fakes import Entry, Spend
from tests.small_disk import fill, small_disk

Stores = Callable[[Path], JsonAccounts | MemoryAccountStore]


def crash(store: JsonAccounts) -> None:
    """What dying does to an open store: its files are let go, and nothing more is written."""
    assert store._journal_fd is not None
    os.close(store._journal_fd)
    store._journal_fd = None


def user(user_id: str, balance: int = 100, **fields: object) -> Account:
    return Account(user_id=user_id, balance=balance, **fields)  # type: ignore[arg-type]


@pytest.fixture(params=["json", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    opened = (
        JsonAccounts.open(tmp_path / "data.json")
        if request.param == "json"
        else MemoryAccountStore()
    )
    yield opened
    await opened.close()


async def test_register_keeps_the_first_account(store: JsonAccounts) -> None:
    first = await store.register(user("5", 100, name="Ann"))
    assert str(first.user_id) == "5"
    again = await store.register(user("5", 999, name="Other"))
    assert again == first
    assert await store.get("5") == first
    assert await store.count() == 1
    assert await store.get("6") is None


async def test_holds_take_what_the_balance_allows(store: JsonAccounts) -> None:
    await store.register(user("5", 100))
    first = await store.hold("5", 10, 80)
    assert first is not None
    assert first.amount == 80
    assert await store.held("5") == 80
    second = await store.hold("5", 10, 80)
    assert second is not None
    assert second.amount == 20  # what is left
    assert await store.hold("5", 1, 5) is None  # nothing left
    await store.release(first)
    await store.release(first)  # twice: harmless
    assert await store.held("5") == 20
    assert await store.hold("unknown", 1, 5) is None


async def test_a_balance_of_exactly_the_minimum_is_held_whole(store: JsonAccounts) -> None:
    await store.register(user("5", 150))
    hold = await store.hold("5", 150, 3_100)
    assert hold is not None
    assert hold.amount == 150
    await store.release(hold)
    first = await store.hold("5", 100, 100)
    assert first is not None
    second = await store.hold("5", 50, 80)  # exactly what is left beside the first
    assert second is not None
    assert second.amount == 50
    assert await store.hold("5", 1, 1) is None


async def test_change_settles_a_hold_in_the_same_step(store: JsonAccounts) -> None:
    await store.register(user("5", 100))
    hold = await store.hold("5", 50, 50)
    assert hold is not None
    posted = await store.settle("5", Spend(30), hold)
    assert posted is not None
    assert posted.account == user("5", 70, requests=1, tokens=30)
    assert posted.charged == 30
    assert await store.held("5") == 0
    assert await store.totals() == Totals(1, 30)
    assert await store.settle("6", Spend(1)) is None


async def test_changes_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    await asyncio.gather(*(store.settle("5", Spend(1)) for _ in range(20)))
    crash(store)
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 80, requests=20, tokens=20)
    assert await again.totals() == Totals(20, 20)
    await again.close()


async def test_close_writes_the_changes_still_queued(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    # Started before close, not yet written when it begins: close must wait for them.
    await asyncio.gather(*(store.settle("5", Spend(1)) for _ in range(5)), store.close())
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 95, requests=5, tokens=5)
    assert await again.totals() == Totals(5, 5)
    await again.close()


async def test_the_chosen_model_is_kept(store: JsonAccounts) -> None:
    assert (await store.register(user("5", 100, model="gpt-mini 🚀"))).model == "gpt-mini 🚀"
    assert (await store.register(user("6", 100))).model is None  # the default
    await store.change("6", lambda a: attrs.evolve(a, model="local/llama"))
    await store.change("5", lambda a: attrs.evolve(a, model=None))
    assert await store.get("5") == user("5", 100)
    assert await store.get("6") == user("6", 100, model="local/llama")


async def test_a_model_change_survives_a_crash(tmp_path: Path) -> None:
    """Through the journal, in the same group commits as the charges around it."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    await store.register(user("6", 100, model="first"))
    await asyncio.gather(
        store.settle("5", Spend(1)),
        store.change("5", lambda a: attrs.evolve(a, model="gpt-vision")),
        store.change("6", lambda a: attrs.evolve(a, model=None)),
        store.settle("5", Spend(1)),
    )
    crash(store)
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 98, requests=2, tokens=2, model="gpt-vision")
    assert await again.get("6") == user("6", 100)
    await again.close()


@pytest.mark.parametrize(
    "bad",
    [
        lambda a: attrs.evolve(a, balance=10**20),  # an admin's /topup of 21 digits
        lambda a: attrs.evolve(a, name="\udcff"),  # invalid UTF-8 from the console
        lambda a: attrs.evolve(a, tokens=1.5),
        lambda a: attrs.evolve(a, model="gpt-\udcff"),  # invalid UTF-8 typed in the console
        lambda a: attrs.evolve(a, model=4),
    ],
)
async def test_a_value_that_cannot_be_written_is_refused_and_changes_nothing(
    tmp_path: Path, bad: Callable[[Account], Account]
) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    with pytest.raises(StorageError, match="cannot be stored"):
        await store.settle("5", Entry(bad, Totals(1, 1)))
    assert await store.get("5") == user("5", 100)
    assert await store.totals() == Totals()
    await store.settle("5", Spend(1))  # the account is not poisoned
    await store.close()
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 99, requests=1, tokens=1)
    await again.close()


async def test_ids_are_plain_numbers_or_matrix_ids(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    for bad in ("²", "05", "abc", "1" * 40, "@alice", "@a b:c", "global"):
        with pytest.raises(StorageError, match="neither a plain number nor @name:server"):
            await store.register(user(bad))
    assert await store.count() == 0
    await store.register(user("@alice:example.org", 10))
    await store.settle("@alice:example.org", Spend(3))
    await store.close()
    again = JsonAccounts.open(path)  # a text id is read back as it was, from its own file
    assert await again.get("@alice:example.org") == user(
        "@alice:example.org", 7, requests=1, tokens=3
    )
    assert "@alice:example.org" not in json.loads(path.read_text())
    assert "@alice:example.org" in json.loads((tmp_path / "data.matrix.json").read_text())
    await again.close()


def older_bot_serves(path: Path, user_id: int, spent: int) -> None:
    """What the older bot does with data.json (kxkw/chatgpt-telegram-bot, main.py): it loads
    the file, turns every key but the first into a number (``int(key)``: a text key stops it
    from starting), charges a request, and writes the whole file back."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in list(data.keys())[1:]:
        data[int(key)] = data.pop(key)
    data[user_id]["balance"] -= spent
    data[user_id]["tokens"] += spent
    data["global"]["tokens"] += spent
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")


async def test_matrix_accounts_are_kept_where_the_older_bot_does_not_look(tmp_path: Path) -> None:
    """A data.json written before Matrix accounts had a file of their own still loads; the
    next rewrite moves them out, the older bot runs on data.json and charges its user, and
    this bot, back again, has both the older bot's change and the Matrix account."""
    path = tmp_path / "data.json"
    path.write_text(
        '{"global": {"requests": 0, "tokens": 0},\n'
        '"42": {"requests": 0, "tokens": 0, "balance": 100, "username": "None"},\n'
        '"@alice:example.org": {"requests": 0, "tokens": 0, "balance": 50, "username": "None"}}\n'
    )
    with pytest.raises(ValueError, match="invalid literal for int"):
        older_bot_serves(path, 42, 1)  # the older bot cannot start on such a file
    store = JsonAccounts.open(path)
    await store.settle("@alice:example.org", Spend(5))
    await store.close()
    older_bot_serves(path, 42, 7)
    back = JsonAccounts.open(path)
    assert (await back.get("42")) == user("42", 93, tokens=7)
    alice = await back.get("@alice:example.org")
    assert alice is not None
    assert (alice.balance, alice.tokens) == (45, 5)
    assert (await back.totals()).tokens == 12
    await back.close()


async def test_matrix_accounts_are_safe_when_data_json_cannot_be_rewritten(
    tmp_path: Path,
) -> None:
    """Their file is written before data.json: when the second of the two rewrites fails (a
    crash, a full disk), data.json still holds them, and neither copy is lost."""
    path = tmp_path / "data.json"
    path.write_text(
        '{"global": {"requests": 0, "tokens": 0},\n'
        '"@alice:example.org": {"requests": 0, "tokens": 0, "balance": 50, "username": "None"}}\n'
    )
    rewrites: list[str] = []

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]
        if name.startswith(".") and name.endswith(".tmp") and name not in rewrites:
            rewrites.append(name)
            if len(rewrites) == 2:
                raise OSError(28, "No space left on device")
        os.fsync(fd)

    store = JsonAccounts.open(path, fsync=fsync)
    await store.register(user("7", 10))
    await store.close()  # the second rewrite fails; the journal keeps the change
    again = JsonAccounts.open(path)
    assert await again.get("7") == user("7", 10)
    alice = await again.get("@alice:example.org")
    assert alice is not None
    assert alice.balance == 50
    await again.close()


async def test_a_full_disk_undoes_the_change_and_every_one_queued_behind_it(
    tmp_path: Path,
) -> None:
    """A change that cannot be written leaves nothing, in memory or on disk, and a change made
    while it was being written (which saw it) fails with it, though it would have fitted."""
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "data.json"
        store = JsonAccounts.open(path)
        await store.register(user("5", 1_000))
        hold = await store.hold("5", 10, 10)
        assert hold is not None
        filler = fill(disk, 6_000)
        big = asyncio.create_task(
            store.settle("5", Entry(lambda a: attrs.evolve(a, prompt="x" * 50_000)), hold)
        )
        await asyncio.sleep(0)  # the change is in memory and queued ...
        await asyncio.sleep(0)  # ... and being written
        assert (await store.get("5")).prompt is not None  # type: ignore[union-attr]
        small = asyncio.create_task(store.settle("5", Spend(1)))
        outcomes = await asyncio.gather(big, small, return_exceptions=True)
        assert all(isinstance(o, StorageError) for o in outcomes), outcomes
        assert await store.get("5") == user("5", 1_000)
        assert await store.totals() == Totals()
        assert await store.held("5") == 10  # the hold the failed change settled is still held
        journal = path.with_name("data.json.journal")
        assert b"x" * 100 not in journal.read_bytes()  # the torn append was cut off again
        filler.unlink()  # space again
        await store.settle("5", Spend(2), hold)
        crash(store)
        again = JsonAccounts.open(path)
        assert await again.get("5") == user("5", 998, requests=1, tokens=2)
        assert await again.totals() == Totals(1, 2)
        await again.close()


async def test_the_bot_starts_on_a_full_disk_and_loses_nothing(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "data.json"
        store = JsonAccounts.open(path)
        await store.register(user("5", 1_000))
        for _ in range(5):
            await store.settle("5", Spend(1))
        crash(store)
        filler = fill(disk, 0)
        again = JsonAccounts.open(path)  # cannot rewrite data.json: starts on the journal
        assert await again.get("5") == user("5", 995, requests=5, tokens=5)
        with pytest.raises(StorageError, match="No space left"):
            await again.change("5", lambda a: attrs.evolve(a, prompt="x" * 9_000))
        assert await again.get("5") == user("5", 995, requests=5, tokens=5)
        filler.unlink()
        await again.settle("5", Spend(1))
        await again.close()
        assert json.loads(path.read_text())["5"]["balance"] == 994


async def test_a_change_while_closing_is_refused_not_lost(tmp_path: Path) -> None:
    """The last snapshot empties the journal: a change appended meanwhile would vanish."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)  # close has begun: writing the last snapshot
    with pytest.raises(StorageError, match="closed"):
        await store.settle("5", Spend(1))
    await closing
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 100)
    await again.close()
