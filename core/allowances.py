"""Allowances: at the start of each period a balance below its allowance is raised to it.

An allowance does not accumulate (a balance at or above it is left alone, so top-ups above it
are kept), and there is no timer over all accounts: the refill is applied when the core next
reads the account for a message (``refill``), once per period. The account remembers the
period it was last refilled in (``Account.refilled``: ``2026-01-05``, ``2026-W02`` or
``2026-01``), and the refill is one atomic change of the store that checks it, so two
messages, or two processes, reading the account at once refill it once. Periods start at
midnight in the configured time zone; weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from zoneinfo import ZoneInfo

import attrs

from core.ports import AccountStore, Clock
from core.texts import text
from core.values import Account


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def period_of(moment: dt.datetime, period: Period) -> str:
    """The name of the period ``moment`` (a local time) falls in."""
    day = moment.date()
    if period is Period.DAY:
        return day.isoformat()
    if period is Period.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def next_start(moment: dt.datetime, period: Period) -> dt.datetime:
    """When the period after the one ``moment`` (an aware local time) falls in begins."""
    day = moment.date()
    if period is Period.DAY:
        start = day + dt.timedelta(days=1)
    elif period is Period.WEEK:
        start = day + dt.timedelta(days=7 - day.weekday())
    else:
        start = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return dt.datetime.combine(start, dt.time(), tzinfo=moment.tzinfo)


def refilled(period: str, default: int) -> Callable[[Account], Account]:
    """The change that refills an account for ``period``: raised to its allowance (its own, or
    ``default``) when below it, and marked refilled; an account already refilled in ``period``,
    or without an allowance, is left as it is. Pure: a store may apply it more than once."""

    def account(current: Account) -> Account:
        allowance = allowance_of(current, default)
        if current.refilled == period or allowance <= 0:
            return current
        return attrs.evolve(current, balance=max(current.balance, allowance), refilled=period)

    return account


def allowance_of(account: Account, default: int) -> int:
    return default if account.allowance is None else account.allowance


@attrs.frozen
class Refill:
    """When the next refill comes, and to how much."""

    tokens: int
    at: dt.datetime  # aware, in the allowance's time zone


@attrs.define
class Allowances:
    tokens: int  # the setting's allowance; 0: none (the admin may still give one person one)
    period: Period
    zone: dt.tzinfo
    clock: Clock
    accounts: AccountStore
    admin_id: str

    @classmethod
    def of(
        cls, tokens: int, period: str, zone: str, clock: Clock, accounts: AccountStore, admin: str
    ) -> Allowances:
        return cls(tokens, Period(period), ZoneInfo(zone), clock, accounts, admin)

    def now(self) -> dt.datetime:
        """The clock's time in the allowance's zone (a clock's naive time is its local time)."""
        return self.clock.now().astimezone(self.zone)

    async def refill(self, account: Account) -> Account:
        """``account`` refilled if a period began since its last refill, made durable first."""
        if account.user_id == self.admin_id or allowance_of(account, self.tokens) <= 0:
            return account
        period = period_of(self.now(), self.period)
        if account.refilled == period:
            return account
        return await self.accounts.change(account.user_id, refilled(period, self.tokens)) or account

    def next(self, account: Account) -> Refill | None:
        """The next refill of ``account``; None when it has no allowance."""
        tokens = allowance_of(account, self.tokens)
        if tokens <= 0 or account.user_id == self.admin_id:
            return None
        return Refill(tokens, next_start(self.now(), self.period))


def when(language: str, moment: dt.datetime) -> str:
    """A moment as ``1 Jan, 00:00 UTC``, the month's name in ``language``."""
    month = text(language, "months").split()[moment.month - 1]
    return f"{moment.day} {month}, {moment:%H:%M} {moment.tzname()}"
