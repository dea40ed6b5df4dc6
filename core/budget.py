"""Token budgeting: what a request may hold, what it is charged, and the account after.

The account store holds and settles atomically (``AccountStore.hold`` / ``settle``); this
module is the arithmetic, pure, so that every store charges alike. A request holds the most it
can cost before the model runs; two requests in flight from one user can never overdraw.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Protocol

import attrs

from core.values import Account, Totals, Usage


@attrs.frozen
class Bounds:
    """The least a request must hold (prompt + a short answer) and the most it can use."""

    minimum: int
    maximum: int


def bounds(prompt_tokens: int, reply_cap: int, min_reply_tokens: int) -> Bounds:
    return Bounds(prompt_tokens + min(min_reply_tokens, reply_cap), prompt_tokens + reply_cap)


@attrs.frozen
class Tariff:
    """What a model's usage costs in balance tokens: ``price`` per token, input tokens served
    from the provider's cache at ``cached`` of that (the provider's discount passed on), and
    ``search`` per web search (the provider bills each call, whatever the model)."""

    price: float = 1.0
    cached: float = 1.0
    search: int = 0

    def cost(self, usage: Usage) -> int:
        """Balance tokens for ``usage``, rounded up. Reasoning tokens are part of the
        completion, and cost what output does."""
        prompt = max(usage.prompt_tokens, 0)
        cached = min(max(usage.cached_tokens, 0), prompt)
        tokens = prompt - cached + max(usage.completion_tokens, 0) + cached * self.cached
        searches = max(usage.searches, 0) * max(self.search, 0)
        return math.ceil(tokens * self.price - 1e-9) + searches


def charge(usage: Usage, held: int | None, balance: int, price: float | Tariff = 1.0) -> int:
    """Balance tokens charged for ``usage`` at ``price`` (a model's price per token, or its
    whole tariff): never more than was held (``held`` None: the admin, whose requests are
    counted but hold nothing), never more than a positive balance has."""
    tariff = price if isinstance(price, Tariff) else Tariff(price)
    used = tariff.cost(usage)
    if held is None:
        return used
    return min(used, held, max(balance, 0))


def reported(usage: Usage) -> bool:
    """Whether a server's report of usage can be charged as it is: a negative count is no
    count (taken as it is, it would make the answer free), and the bot's own estimate is
    charged instead."""
    return usage.prompt_tokens >= 0 and usage.completion_tokens >= 0


def cost(tokens: int, price: float) -> int:
    """Balance tokens for ``tokens`` of a model of ``price`` (balance tokens per model token),
    rounded up."""
    return math.ceil(max(tokens, 0) * price - 1e-9)


def affordable(balance_tokens: int, price: float) -> int:
    """Model tokens that ``balance_tokens`` pay for at ``price`` (a free model: any number)."""
    if price <= 0:
        return 2**62
    return math.floor(balance_tokens / price + 1e-9)


@attrs.frozen
class Posting:
    """One money change as a store applies it to the stored account, in one atomic step with
    the totals: the account after, what it adds to the bot's totals, and the balance tokens
    charged (negative: given back)."""

    account: Account
    counted: Totals
    charged: int


@attrs.frozen
class Settlement:
    """What settles one request: ``usage`` charged at ``price``, within what was held."""

    usage: Usage
    held: int | None  # None: the admin, who holds nothing and is never debited
    now: dt.datetime
    price: float | Tariff = 1.0  # balance tokens per token of usage, or the whole tariff

    def post(self, current: Account) -> Posting:
        charged = charge(self.usage, self.held, current.balance, self.price)
        account = attrs.evolve(
            current,
            balance=current.balance - (0 if self.held is None else charged),
            requests=current.requests + 1,
            tokens=current.tokens + charged,
            last_request=self.now,
        )
        return Posting(account, Totals(requests=1, tokens=charged), charged)


@attrs.frozen
class Refund:
    """What undoes a settled request whose result could not be delivered."""

    charged: int
    admin: bool  # the admin was counted, never debited: nothing goes back to the balance

    def post(self, current: Account) -> Posting:
        account = attrs.evolve(
            current,
            balance=current.balance + (0 if self.admin else self.charged),
            requests=max(current.requests - 1, 0),
            tokens=max(current.tokens - self.charged, 0),
        )
        return Posting(account, Totals(requests=-1, tokens=-self.charged), -self.charged)


class Entry(Protocol):
    """A money change a store applies atomically: a settlement, a refund."""

    def post(self, current: Account) -> Posting:
        """The posting for the stored account ``current``; pure (a store may call it again)."""
        ...


def topped_up(tokens: int) -> Callable[[Account], Account]:
    """Add ``tokens`` to a balance; a negative amount takes away, never below zero (a balance
    already below zero stays where it is)."""

    def account(current: Account) -> Account:
        balance = current.balance + tokens
        if tokens < 0:
            balance = max(balance, min(current.balance, 0))
        return attrs.evolve(current, balance=balance)

    return account
