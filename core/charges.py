"""Charges whose amount is known before the work is done: a picture at its price, a recording
by its length. Held first, settled after, released when the work fails, as answers are."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from core import budget, errors
from core.config import BotConfig
from core.notices import Notices
from core.ports import AccountStore, Clock
from core.values import Hold, Usage, UserId

log = logging.getLogger(__name__)


@attrs.frozen
class Held:
    """What is held for one piece of work: nothing for the admin (never debited, their use
    counted) or for work that costs nothing."""

    user_id: UserId
    hold: Hold | None
    admin: bool = False


@attrs.frozen
class Settled:
    user_id: UserId
    charged: int  # what the person pays (what the admin's statistics count)
    paid: bool  # False: the charge could not be saved, and nothing was charged
    admin: bool = False  # counted, never debited


async def available(accounts: AccountStore, user_id: UserId) -> int:
    """The balance not held by requests in flight."""
    current = await accounts.get(user_id)
    return (current.balance if current else 0) - await accounts.held(user_id)


@attrs.define
class FixedCharges:
    config: BotConfig
    accounts: AccountStore
    notices: Notices
    clock: Clock

    async def hold(self, user_id: UserId, amount: int) -> Held | None:
        """Hold ``amount`` tokens; None when the balance cannot pay them (nothing held)."""
        if user_id == self.config.admin_id:
            return Held(user_id, None, admin=True)
        if amount <= 0:
            return Held(user_id, None)
        hold = await self.accounts.reserve(user_id, amount, amount)
        return None if hold is None else Held(user_id, hold)

    @asynccontextmanager
    async def released_on_error(self, held: Held) -> AsyncIterator[None]:
        """Give the hold back when the work in the block raises."""
        try:
            yield
        except BaseException:
            await self.release(held)
            raise

    async def release(self, held: Held) -> None:
        if held.hold is not None:
            await self.accounts.release(held.hold)

    async def settle(self, held: Held, tokens: int, *, estimated: bool = False) -> Settled:
        """Charge ``tokens`` (at most what is held) and give the hold back, durably. When the
        charge cannot be saved, nothing is charged and the admin is told."""
        hold = held.hold
        # Not the admin: never more than is held (nothing, for work held as free).
        cap = None if held.admin else (0 if hold is None else hold.amount)
        settlement = budget.Settlement(Usage(tokens, 0, estimated), cap, self.clock.now())
        try:
            async with self.released_on_error(held):
                await self.accounts.change(
                    held.user_id, settlement.account, settlement.totals, release=hold
                )
        except errors.StorageError as exc:
            log.error("could not save a charge of %s tokens to %s: %s", tokens, held.user_id, exc)
            self.notices.post("admin_storage", detail=str(exc))
            return Settled(held.user_id, 0, paid=False, admin=held.admin)
        return Settled(held.user_id, settlement.charged, paid=True, admin=held.admin)
