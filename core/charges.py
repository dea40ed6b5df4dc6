"""Charges: held first, settled after, given back when the work fails or cannot be delivered.

``FixedCharges`` is for work whose price is known before it is done (a picture at its price, a
recording by its length); answers hold and settle the same way in ``core.answering``. ``refund``
undoes a settled charge whose result never reached the person; ``give_back`` returns a hold
whatever the store says.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from core import budget, errors
from core.parts import Parts
from core.ports import AccountStore
from core.values import Hold, Usage, UserId

log = logging.getLogger(__name__)


@attrs.frozen
class Charge:
    """A charge in progress: what is held for one piece of work. Nothing is held for the admin
    (never debited, their use counted) or for work that costs nothing."""

    user_id: UserId
    hold: Hold | None
    admin: bool = False


@attrs.frozen
class Charged:
    """What a charge came to."""

    user_id: UserId
    charged: int  # what the person pays (what the admin's statistics count)
    paid: bool  # False: the charge could not be saved, and nothing was charged
    admin: bool = False  # counted, never debited


async def available(accounts: AccountStore, user_id: UserId) -> int:
    """The balance not held by requests in flight."""
    current = await accounts.get(user_id)
    return (current.balance if current else 0) - await accounts.held(user_id)


async def refund(
    accounts: AccountStore,
    user_id: UserId,
    charged: int,
    *,
    admin: bool,
    at: dt.datetime | None = None,
) -> None:
    """Undo a settled charge whose result could not be delivered (``at``: now, for the day's
    tally); a failure is logged."""
    try:
        await accounts.settle(user_id, budget.Refund(charged, admin, at))
    except errors.StorageError as failure:
        log.error("could not refund %s tokens to %s: %s", charged, user_id, failure)


async def give_back(parts: Parts, hold: Hold | None) -> None:
    """Give ``hold`` back. It never raises StorageError: giving back follows a failure (often
    the store's own), and must not turn an answer into one more. A store that cannot give it
    back now keeps trying (``AccountStore.release``); the log and the admin are told."""
    if hold is None:
        return
    try:
        await parts.accounts.release(hold)
    except errors.StorageError as exc:
        log.error(
            "could not give back the %s tokens held for user %s (%s); the store keeps trying",
            hold.amount,
            hold.user_id,
            exc,
        )
        parts.notices.post("admin_hold_stuck", tokens=hold.amount, user=hold.user_id, detail=exc)


@attrs.define
class FixedCharges:
    parts: Parts

    async def hold(self, user_id: UserId, amount: int) -> Charge | None:
        """Hold ``amount`` tokens; None when the balance cannot pay them (nothing held)."""
        if user_id == self.parts.config.admin_id:
            return Charge(user_id, None, admin=True)
        if amount <= 0:
            return Charge(user_id, None)
        hold = await self.parts.accounts.hold(user_id, amount, amount)
        return None if hold is None else Charge(user_id, hold)

    @asynccontextmanager
    async def released_on_error(self, charge: Charge) -> AsyncIterator[None]:
        """Give the hold back when the work in the block raises."""
        try:
            yield
        except BaseException:
            await self.release(charge)
            raise

    async def release(self, charge: Charge) -> None:
        """Give the hold back (see ``give_back``: it never raises StorageError)."""
        await give_back(self.parts, charge.hold)

    async def settle(self, charge: Charge, tokens: int, *, estimated: bool = False) -> Charged:
        """Charge ``tokens`` (at most what is held) and give the hold back, durably. When the
        charge cannot be saved, nothing is charged and the admin is told."""
        hold = charge.hold
        # Not the admin: never more than is held (nothing, for work held as free).
        cap = None if charge.admin else (0 if hold is None else hold.amount)
        settlement = budget.Settlement(Usage(tokens, 0, estimated), cap, self.parts.clock.now())
        try:
            async with self.released_on_error(charge):
                posted = await self.parts.accounts.settle(charge.user_id, settlement, hold)
        except errors.StorageError as exc:
            # Given back already (released_on_error), or left to the store to give back.
            log.error("could not save a charge of %s tokens to %s: %s", tokens, charge.user_id, exc)
            self.parts.notices.post("admin_storage", detail=str(exc))
            return Charged(charge.user_id, 0, paid=False, admin=charge.admin)
        charged = 0 if posted is None else posted.charged
        return Charged(charge.user_id, charged, paid=True, admin=charge.admin)
