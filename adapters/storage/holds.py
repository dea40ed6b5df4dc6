"""Tokens held for requests in flight, in memory: a hold dies with the process.

Used by the stores whose accounts live in this process's memory (data.json, the in-memory
store). Each method runs with no await, so on one event loop a check and the hold it leads to
are never separated by another request.
"""

from __future__ import annotations

import itertools

import attrs

from core.values import Hold

__all__ = ["Hold", "HoldLedger"]


@attrs.define
class HoldLedger:
    """Who holds how much; the account stores decide against which balance."""

    _holds: dict[str, Hold] = attrs.field(factory=dict)
    _held: dict[str, int] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=itertools.count)

    def held(self, user_id: str) -> int:
        return self._held.get(user_id, 0)

    def hold(self, user_id: str, balance: int, minimum: int, maximum: int) -> Hold | None:
        """Hold as much of [minimum, maximum] as ``balance`` minus what is held allows."""
        available = balance - self.held(user_id)
        if available < minimum or maximum < minimum:
            return None
        hold = Hold(user_id, min(maximum, available), str(next(self._ids)))
        self.take(hold)
        return hold

    def has(self, hold: Hold | None) -> bool:
        return hold is not None and hold.id in self._holds

    def take(self, hold: Hold) -> None:
        self._holds[hold.id] = hold
        self._held[hold.user_id] = self.held(hold.user_id) + hold.amount

    def give_back(self, hold: Hold) -> None:
        """A hold already given back (or settled) is ignored."""
        if self._holds.pop(hold.id, None) is None:
            return
        left = self._held[hold.user_id] - hold.amount
        if left:
            self._held[hold.user_id] = left
        else:
            del self._held[hold.user_id]
