"""Budgeting: holds in the memory store and the arithmetic of charges, with property tests."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from adapters.storage.memory.stores import MemoryAccountStore
from core import budget
from core.values import Account, Hold, Usage

NOW = dt.datetime(2026, 1, 1)


async def test_hold_holds_prompt_and_cap() -> None:
    store = MemoryAccountStore()
    await store.register(Account("2", balance=10_000))
    limits = budget.bounds(100, reply_cap=3_000, min_reply_tokens=50)
    hold = await store.hold("2", limits.minimum, limits.maximum)
    assert hold is not None
    assert hold.amount == 3_100
    assert await store.held("2") == 3_100
    await store.release(hold)
    assert await store.held("2") == 0


async def test_a_low_balance_lowers_the_hold_and_refuses_below_the_minimum() -> None:
    store = MemoryAccountStore()
    await store.register(Account("2", balance=500))
    hold = await store.hold("2", 150, 3_100)
    assert hold is not None
    assert hold.amount == 500
    assert await store.hold("2", 150, 3_100) is None  # nothing left beside the first hold


def test_topup_takes_away_never_below_zero() -> None:
    assert budget.topped_up(-700)(Account("2", 500)).balance == 0
    assert budget.topped_up(-100)(Account("2", 500)).balance == 400
    assert budget.topped_up(-100)(Account("2", -137)).balance == -137  # left as it was
    assert budget.topped_up(300)(Account("2", -137)).balance == 163


@given(
    balance=st.integers(min_value=-1_000, max_value=20_000),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4_000),  # prompt estimate
            st.integers(min_value=0, max_value=10_000),  # reported usage
            st.booleans(),  # the request fails
        ),
        max_size=30,
    ),
    admin=st.booleans(),
)
async def test_balance_never_below_zero_and_charges_add_up(
    balance: int, steps: list[tuple[int, int, bool]], admin: bool
) -> None:
    store = MemoryAccountStore()
    await store.register(Account("7", balance=balance))
    held: list[Hold | None] = []
    charged = 0
    for prompt, used, fails in steps:
        limits = budget.bounds(prompt, 3_000, 50)
        hold = None if admin else await store.hold("7", limits.minimum, limits.maximum)
        if hold is not None or admin:
            held.append(hold)
        if len(held) > 2 or (hold is None and not admin):
            if not held:
                continue
            oldest = held.pop(0)
            if fails:
                if oldest is not None:
                    await store.release(oldest)
            else:
                settlement = budget.Settlement(
                    Usage(used, 0), None if oldest is None else oldest.amount, NOW
                )
                posted = await store.settle("7", settlement, oldest)
                assert posted is not None
                charged += posted.charged
        account = await store.get("7")
        assert account is not None
        assert account.balance - await store.held("7") >= min(balance, 0) or admin
    for hold in held:
        if hold is not None:
            await store.release(hold)
    account = await store.get("7")
    assert account is not None
    if admin:
        assert account.balance == balance
    else:
        assert account.balance >= min(balance, 0)
        assert account.balance == balance - charged
    assert account.tokens == charged == (await store.totals()).tokens
    assert await store.held("7") == 0


@given(
    balance=st.integers(min_value=0, max_value=10**9),
    price=st.one_of(
        st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 1.0, 1.5, 2.0, 3.0, 7.0, 8.0, 30.0]),
        st.floats(min_value=0.01, max_value=1_000.0),
    ),
)
def test_affordable_is_the_most_model_tokens_a_balance_pays_for(balance: int, price: float) -> None:
    """An answer capped at ``affordable`` tokens can never cost more than was held for it."""
    tokens = budget.affordable(balance, price)
    assert budget.cost(tokens, price) <= balance
    assert budget.cost(tokens + 1, price) > balance  # and not fewer than it pays for
