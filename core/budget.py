"""Token budgeting: reserve before the model runs, settle with the real usage after.

All methods are synchronous, so on one event loop a check and the hold it leads to can never be
separated by another request: two requests from one user cannot overdraw the balance.
"""

from __future__ import annotations

import datetime as dt

import attrs

from core.values import Account, Totals, Usage


@attrs.frozen
class Reservation:
    """Tokens held for one request: the prompt estimate plus the reply cap granted."""

    user_id: int
    prompt_tokens: int
    max_tokens: int
    unlimited: bool

    @property
    def amount(self) -> int:
        return self.prompt_tokens + self.max_tokens


@attrs.frozen
class Refusal:
    """Why a request cannot be paid for: what was available and what even a short answer needs."""

    available: int
    needed: int


@attrs.frozen
class Settlement:
    """The result of a settled request: the new account and totals, and what was charged."""

    account: Account
    totals: Totals
    charged: int


@attrs.define
class Ledger:
    """Holds reservations in flight and turns usage into charges.

    The admin's balance never burns: their requests are counted but not debited.
    """

    admin_id: int
    reply_cap: int
    min_reply_tokens: int
    _held: dict[int, int] = attrs.field(factory=dict, init=False)

    def held(self, user_id: int) -> int:
        return self._held.get(user_id, 0)

    def available(self, account: Account) -> int:
        """What the account can still spend, net of the requests in flight."""
        return account.balance - self.held(account.user_id)

    def reserve(self, account: Account, prompt_tokens: int) -> Reservation | Refusal:
        """Hold the most this request can cost, lowering the reply cap to what can be paid."""
        if account.user_id == self.admin_id:
            return Reservation(account.user_id, prompt_tokens, self.reply_cap, unlimited=True)
        available = self.available(account)
        cap = min(self.reply_cap, available - prompt_tokens)
        if cap < self.min_reply_tokens:
            return Refusal(
                available=max(available, 0), needed=prompt_tokens + self.min_reply_tokens
            )
        reservation = Reservation(account.user_id, prompt_tokens, cap, unlimited=False)
        self._held[account.user_id] = self.held(account.user_id) + reservation.amount
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give the hold back: the request failed or has been settled."""
        if reservation.unlimited:
            return
        left = self.held(reservation.user_id) - reservation.amount
        if left > 0:
            self._held[reservation.user_id] = left
        else:
            self._held.pop(reservation.user_id, None)

    def settle(
        self,
        reservation: Reservation,
        account: Account,
        totals: Totals,
        usage: Usage,
        now: dt.datetime,
    ) -> Settlement:
        """Release the hold and charge the real usage, never more than was reserved."""
        self.release(reservation)
        if reservation.unlimited:
            charged = max(usage.total, 0)
            balance = account.balance
        else:
            charged = min(max(usage.total, 0), reservation.amount, max(account.balance, 0))
            balance = account.balance - charged
        new_account = attrs.evolve(
            account,
            balance=balance,
            requests=account.requests + 1,
            tokens=account.tokens + charged,
            last_request=now,
        )
        new_totals = Totals(requests=totals.requests + 1, tokens=totals.tokens + charged)
        return Settlement(new_account, new_totals, charged)
