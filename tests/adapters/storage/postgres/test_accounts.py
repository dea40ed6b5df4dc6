"""The PostgreSQL account store against a real server: registration, holds and their lease,
atomic changes."""

from __future__ import annotations

import datetime as dt

import attrs
import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from core.budget import Posting
from core.errors import StorageError
from core.values import Account, Totals
from tests.fakes import Entry, Spend

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


async def test_hold_takes_what_the_balance_allows_between_minimum_and_maximum(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    full = await accounts.hold("1", 100, 600)
    assert full is not None
    assert (full.user_id, full.amount) == ("1", 600)
    partial = await accounts.hold("1", 100, 600)
    assert partial is not None
    assert partial.amount == 400
    assert await accounts.hold("1", 1, 600) is None
    assert await accounts.held("1") == 1000
    await accounts.release(full)
    await accounts.release(full)  # given back once only
    assert await accounts.held("1") == 400
    assert await accounts.hold("1", 700, 700) is None
    assert await accounts.hold("missing", 1, 1) is None


async def test_settle_charges_counts_and_releases_in_one_step(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    hold = await accounts.hold("1", 100, 500)
    posted = await accounts.settle("1", Spend(120), hold)
    assert posted is not None
    assert posted.charged == 120
    after = posted.account
    assert (after.balance, after.requests, after.tokens) == (880, 1, 120)
    assert await accounts.get("1") == after
    assert await accounts.held("1") == 0
    assert await accounts.totals() == Totals(requests=1, tokens=120)
    # The hold was given back by the settlement: releasing it again changes nothing.
    await accounts.release(hold)
    assert await accounts.held("1") == 0
    assert (await accounts.hold("1", 880, 880)) is not None


async def test_settling_an_unknown_account_is_none(accounts):
    assert await accounts.settle("nobody", Spend(1)) is None
    assert await accounts.totals() == Totals()


async def test_a_change_that_fails_leaves_everything_as_it_was(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    hold = await accounts.hold("1", 10, 300)

    def broken(current):
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await accounts.settle("1", Entry(broken, Totals(1, 5)), hold)
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
    # settled them are given back to the next hold that needs them.
    dead = await PostgresAccountStore.open(database_url, lease=dt.timedelta(seconds=-1))
    await dead.register(Account(user_id="1", balance=1000))
    forgotten = await dead.hold("1", 1000, 1000)
    assert forgotten is not None
    await dead.close()
    live = await PostgresAccountStore.open(database_url)
    try:
        assert await live.held("1") == 0
        hold = await live.hold("1", 1000, 1000)
        assert hold is not None
        # The settlement of the expired hold, arriving late, charges once and gives back
        # nothing more than it holds.
        after = await live.settle("1", Spend(50), forgotten)
        assert after is not None
        assert after.account.balance == 950
        assert await live.held("1") == 1000
        await live.settle("1", Spend(0), hold)
        assert await live.held("1") == 0
    finally:
        await live.close()


async def test_a_sweep_gives_back_every_expired_hold(database_url):
    store = await PostgresAccountStore.open(database_url, lease=dt.timedelta(seconds=-1))
    try:
        for user in ("1", "2", "3"):
            await store.register(Account(user_id=user, balance=10))
            await store.hold(user, 5, 5)
        assert await store.expire_holds() == 3
        assert await store.expire_holds() == 0
        with psycopg.connect(database_url) as connection:
            assert connection.execute("SELECT sum(held) FROM accounts").fetchone() == (0,)
    finally:
        await store.close()


async def test_an_unreachable_server_is_a_storage_error_in_plain_words(cluster):
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL"):
        await PostgresAccountStore.open(cluster.url("no_such_database"))


async def test_totals_count_each_posting_spread_over_the_rows(accounts):
    await accounts.register(Account(user_id="1", balance=1000))
    for cost in (10, 20, 30):  # increments, spread over the rows of the totals
        await accounts.settle("1", Spend(cost))
    assert await accounts.totals() == Totals(requests=3, tokens=60)
    await accounts.settle("1", Entry(lambda a: a, Totals(requests=-1, tokens=-20)))  # a refund
    assert await accounts.totals() == Totals(requests=2, tokens=40)
    await accounts.change("1", lambda a: attrs.evolve(a, prompt="p"))  # counts nothing
    assert await accounts.totals() == Totals(requests=2, tokens=40)


async def test_in_a_batch_a_failing_change_is_left_out_and_the_others_kept(accounts):
    import asyncio

    for user in ("1", "2", "3"):
        await accounts.register(Account(user_id=user, balance=1000))
    holds = [await accounts.hold(user, 100, 100) for user in ("1", "2", "3")]

    def broken(current):
        raise ValueError("no")

    outcomes = await asyncio.gather(
        accounts.settle("1", Spend(10), holds[0]),
        accounts.settle("2", Entry(broken, Totals(1, 20)), holds[1]),
        accounts.settle("3", Spend(30), holds[2]),
        accounts.settle("1", Spend(1)),  # sees the first one's result
        accounts.settle("nobody", Spend(1)),
        return_exceptions=True,
    )
    balances = [
        o.account.balance if isinstance(o, Posting) else o
        for o in outcomes
        if not isinstance(o, BaseException)
    ]
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
            writer.settle("1", Spend(5)),
            writer.change("2", lambda a: attrs.evolve(a, model="local/llama")),
            writer.change("1", lambda a: attrs.evolve(a, model=None)),
            writer.settle("1", Spend(5)),
        )
        assert await reader.get("1") == Account(user_id="1", balance=90, requests=2, tokens=10)
        assert await reader.get("2") == Account(user_id="2", balance=100, model="local/llama")
    finally:
        await writer.close()
        await reader.close()
