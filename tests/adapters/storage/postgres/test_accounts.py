"""The PostgreSQL account store against a real server: registration, holds and their lease,
atomic changes."""

from __future__ import annotations

import datetime as dt

import attrs
import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from core.errors import StorageError
from core.values import Account, Totals
from tests.adapters.storage.postgres.helpers import charge, count_in

pytestmark = pytest.mark.postgres


async def test_register_stores_a_new_account_and_keeps_an_existing_one(accounts):
    first = Account(user_id="42", balance=100, name="Ann", username="ann", prompt="Be brief")
    assert await accounts.register(first) == first
    again = await accounts.register(Account(user_id="42", balance=5))
    assert again == first
    assert await accounts.get("42") == first
    assert await accounts.get("43") is None
    assert await accounts.count() == 1


async def test_ids_are_opaque_text(accounts):
    for user_id in ("7", "-100123", "matrix:@ann:example.org", "007"):
        await accounts.register(Account(user_id=user_id, balance=1))
    assert await accounts.count() == 4
    assert (await accounts.get("007")).user_id == "007"
    assert await accounts.get("7") != await accounts.get("007")


async def test_reserve_takes_what_the_balance_allows_between_minimum_and_maximum(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    full = await accounts.reserve("1", 100, 600)
    assert full is not None
    assert (full.user_id, full.amount) == ("1", 600)
    partial = await accounts.reserve("1", 100, 600)
    assert partial is not None
    assert partial.amount == 400
    assert await accounts.reserve("1", 1, 600) is None
    assert await accounts.held("1") == 1000
    await accounts.release(full)
    await accounts.release(full)  # given back once only
    assert await accounts.held("1") == 400
    assert await accounts.reserve("1", 700, 700) is None
    assert await accounts.reserve("missing", 1, 1) is None


async def test_change_settles_charges_and_counts_in_one_step(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    hold = await accounts.reserve("1", 100, 500)
    after = await accounts.change("1", charge(120), totals=count_in(120), release=hold)
    assert after is not None
    assert (after.balance, after.requests, after.tokens) == (880, 1, 120)
    assert await accounts.get("1") == after
    assert await accounts.held("1") == 0
    assert await accounts.totals() == Totals(requests=1, tokens=120)
    # The hold was given back by the settlement: releasing it again changes nothing.
    await accounts.release(hold)
    assert await accounts.held("1") == 0
    assert (await accounts.reserve("1", 880, 880)) is not None


async def test_change_of_an_unknown_account_is_none(accounts):
    assert await accounts.change("nobody", charge(1), totals=count_in(1)) is None
    assert await accounts.totals() == Totals()


async def test_a_change_that_fails_leaves_everything_as_it_was(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    hold = await accounts.reserve("1", 10, 300)

    def broken(current):
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await accounts.change("1", charge(5), totals=broken, release=hold)
    assert (await accounts.get("1")).balance == 1000
    assert await accounts.held("1") == 300  # the hold was not given back either
    assert await accounts.totals() == Totals()


async def test_a_change_may_not_move_an_account_to_another_id(accounts):
    await accounts.register(Account(user_id="1", balance=10))
    with pytest.raises(StorageError, match="id"):
        await accounts.change("1", lambda a: attrs.evolve(a, user_id="2"))
    assert await accounts.get("2") is None


async def test_the_holds_of_a_dead_process_expire(database_url):
    # A lease that has ended by the time it is looked at: the holds of a process that never
    # settled them are given back to the next reservation that needs them.
    dead = await PostgresAccountStore.open(database_url, lease=dt.timedelta(seconds=-1))
    await dead.register(Account(user_id="1", balance=1000))
    forgotten = await dead.reserve("1", 1000, 1000)
    assert forgotten is not None
    await dead.close()
    live = await PostgresAccountStore.open(database_url)
    try:
        assert await live.held("1") == 0
        hold = await live.reserve("1", 1000, 1000)
        assert hold is not None
        # The settlement of the expired hold, arriving late, charges once and gives back
        # nothing more than it holds.
        after = await live.change("1", charge(50), release=forgotten)
        assert after is not None
        assert after.balance == 950
        assert await live.held("1") == 1000
        await live.change("1", charge(0), release=hold)
        assert await live.held("1") == 0
    finally:
        await live.close()


async def test_a_sweep_gives_back_every_expired_hold(database_url):
    store = await PostgresAccountStore.open(database_url, lease=dt.timedelta(seconds=-1))
    try:
        for user in ("1", "2", "3"):
            await store.register(Account(user_id=user, balance=10))
            await store.reserve(user, 5, 5)
        assert await store.expire_holds() == 3
        assert await store.expire_holds() == 0
        with psycopg.connect(database_url) as connection:
            assert connection.execute("SELECT sum(held) FROM accounts").fetchone() == (0,)
    finally:
        await store.close()


async def test_an_unreachable_server_is_a_storage_error_in_plain_words(cluster):
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL"):
        await PostgresAccountStore.open(cluster.url("no_such_database"))


async def test_totals_functions_that_are_no_increment_see_the_whole_totals(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    for cost in (10, 20, 30):  # increments, spread over the rows of the totals
        await accounts.change("1", charge(cost), totals=count_in(cost))
    assert await accounts.totals() == Totals(requests=3, tokens=60)
    await accounts.change(
        "1", lambda a: a, totals=lambda t: Totals(requests=t.requests * 2, tokens=t.tokens + 1)
    )
    assert await accounts.totals() == Totals(requests=6, tokens=61)
    await accounts.change("1", charge(4), totals=count_in(4))
    assert await accounts.totals() == Totals(requests=7, tokens=65)


async def test_in_a_batch_a_failing_change_is_left_out_and_the_others_kept(accounts):
    import asyncio

    for user in ("1", "2", "3"):
        await accounts.register(Account(user_id=user, balance=1000))
    holds = [await accounts.reserve(user, 100, 100) for user in ("1", "2", "3")]

    def broken(current):
        raise ValueError("no")

    outcomes = await asyncio.gather(
        accounts.change("1", charge(10), totals=count_in(10), release=holds[0]),
        accounts.change("2", broken, totals=count_in(20), release=holds[1]),
        accounts.change("3", charge(30), totals=count_in(30), release=holds[2]),
        accounts.change("1", charge(1), totals=count_in(1)),  # sees the first one's result
        accounts.change("nobody", charge(1), totals=count_in(1)),
        return_exceptions=True,
    )
    balances = [getattr(o, "balance", o) for o in outcomes if not isinstance(o, Exception)]
    assert balances == [990, 970, 989, None]
    assert isinstance(outcomes[1], ValueError)
    assert [await accounts.held(u) for u in ("1", "2", "3")] == [0, 100, 0]
    assert (await accounts.get("2")).balance == 1000
    assert await accounts.totals() == Totals(requests=3, tokens=41)


async def test_the_chosen_model_is_kept_through_every_path(database_url):
    """Registered, changed alone and in a batch with charges, read by another process's
    store; None is the default model."""
    import asyncio

    writer = await PostgresAccountStore.open(database_url)
    reader = await PostgresAccountStore.open(database_url)
    try:
        chosen = Account(user_id="1", balance=100, model="gpt-vision 👁")
        assert await writer.register(chosen) == chosen
        assert (await writer.register(Account(user_id="2", balance=100))).model is None
        await asyncio.gather(
            writer.change("1", charge(5), count_in(5)),
            writer.change("2", lambda a: attrs.evolve(a, model="local/llama")),
            writer.change("1", lambda a: attrs.evolve(a, model=None)),
            writer.change("1", charge(5), count_in(5)),
        )
        assert await reader.get("1") == Account(user_id="1", balance=90, requests=2, tokens=10)
        assert await reader.get("2") == Account(user_id="2", balance=100, model="local/llama")
    finally:
        await writer.close()
        await reader.close()
