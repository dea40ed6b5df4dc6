"""Holds of one process: tokens set aside from balances for the requests in flight.

Used by the stores whose accounts live in this process's memory (data.json, the in-memory
store). Each method runs with no await, so on one event loop a check and the hold it leads to
are never separated by another request.
"""

from __future__ import annotations

import itertools

import attrs

from core.values import Hold


@attrs.define
class Holds:
    _held: dict[str, int] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=itertools.count)

    def held(self, user_id: str) -> int:
        return self._held.get(user_id, 0)

    def reserve(self, user_id: str, balance: int, minimum: int, maximum: int) -> Hold | None:
        """Hold as much of ``maximum`` as ``balance`` net of the other holds allows, at least
        ``minimum``; None when even that is not there."""
        amount = min(maximum, balance - self.held(user_id))
        if amount < minimum or amount <= 0:
            return None
        self._held[user_id] = self.held(user_id) + amount
        return Hold(user_id, amount, str(next(self._ids)))

    def release(self, hold: Hold) -> None:
        left = self.held(hold.user_id) - hold.amount
        if left > 0:
            self._held[hold.user_id] = left
        else:
            self._held.pop(hold.user_id, None)
