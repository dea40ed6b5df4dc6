"""The ledger: reservations and charges, including property tests of its invariants."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from core.budget import Ledger, Refusal, Reservation
from core.values import Account, Totals, Usage

NOW = dt.datetime(2026, 1, 1)


def test_reserve_holds_prompt_and_cap() -> None:
    ledger = Ledger(admin_id=1, reply_cap=3_000, min_reply_tokens=50)
    account = Account(user_id=2, balance=10_000)
    reservation = ledger.reserve(account, 100)
    assert isinstance(reservation, Reservation)
    assert reservation.amount == 3_100
    assert ledger.available(account) == 6_900
    ledger.release(reservation)
    assert ledger.available(account) == 10_000


def test_refusal_says_what_is_needed() -> None:
    ledger = Ledger(admin_id=1, reply_cap=3_000, min_reply_tokens=50)
    refusal = ledger.reserve(Account(user_id=2, balance=120), 100)
    assert refusal == Refusal(available=120, needed=150)


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
def test_balance_never_below_zero_and_charges_add_up(
    balance: int, steps: list[tuple[int, int, bool]], admin: bool
) -> None:
    ledger = Ledger(admin_id=7 if admin else 1, reply_cap=3_000, min_reply_tokens=50)
    account = Account(user_id=7, balance=balance)
    totals = Totals()
    held: list[Reservation] = []
    charged = 0
    for prompt, used, fails in steps:
        reservation = ledger.reserve(account, prompt)
        if isinstance(reservation, Reservation):
            held.append(reservation)
        if len(held) > 2 or not isinstance(reservation, Reservation):
            if not held:
                continue
            oldest = held.pop(0)
            if fails:
                ledger.release(oldest)
            else:
                settled = ledger.settle(oldest, account, totals, Usage(used, 0), NOW)
                account, totals = settled.account, settled.totals
                charged += settled.charged
        assert ledger.available(account) >= min(balance, 0) or admin
    for reservation in held:
        ledger.release(reservation)
    if admin:
        assert account.balance == balance
    else:
        assert account.balance >= min(balance, 0)
        assert account.balance == balance - charged
    assert account.tokens == charged == totals.tokens
    assert ledger.available(account) == account.balance
