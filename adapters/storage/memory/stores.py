"""In-memory stores: for tests, benchmarks and trying things out. Nothing survives the process."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence

import attrs

from adapters.storage.holds import HoldLedger
from adapters.storage.purchases import by_time, credited
from core.budget import Entry, Posting
from core.errors import StorageError
from core.threads import links_by_get
from core.values import AccessList, Account, Hold, Link, Node, Purchase, Totals


@attrs.define
class MemoryAccountStore:
    """Implements ``core.ports.AccountStore`` in a dict."""

    _accounts: dict[str, Account] = attrs.field(factory=dict)
    _totals: Totals = attrs.field(factory=Totals)
    _holds: HoldLedger = attrs.field(factory=HoldLedger)
    _access: AccessList = attrs.field(factory=AccessList)
    _purchases: dict[str, Purchase] = attrs.field(factory=dict)
    _days: dict[dt.date, int] = attrs.field(factory=dict)

    async def get(self, user_id: str) -> Account | None:
        return self._accounts.get(user_id)

    async def totals(self) -> Totals:
        return self._totals

    async def count(self) -> int:
        return len(self._accounts)

    async def held(self, user_id: str) -> int:
        return self._holds.held(user_id)

    async def register(self, account: Account) -> Account:
        return self._accounts.setdefault(account.user_id, account)

    async def hold(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        account = self._accounts.get(user_id)
        if account is None:
            return None
        return self._holds.hold(user_id, account.balance, minimum, maximum)

    async def release(self, hold: Hold) -> None:
        self._holds.give_back(hold)

    async def settle(
        self, user_id: str, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        current = self._accounts.get(user_id)
        if current is None:
            return None
        posting = entry.post(current)
        self._accounts[user_id] = posting.account
        self._totals = self._totals.plus(posting.counted)
        if posting.day is not None:
            self._days[posting.day] = self._days.get(posting.day, 0) + posting.counted.tokens
        if release is not None:
            self._holds.give_back(release)
        return posting

    async def change(self, user_id: str, change: Callable[[Account], Account]) -> Account | None:
        current = self._accounts.get(user_id)
        if current is None:
            return None
        self._accounts[user_id] = changed = change(current)
        return changed

    async def page(self, offset: int, limit: int) -> Sequence[Account]:
        return list(itertools.islice(self._accounts.values(), offset, offset + limit))

    async def access(self) -> AccessList:
        return self._access

    async def change_access(self, change: Callable[[AccessList], AccessList]) -> AccessList:
        self._access = changed = change(self._access)
        return changed

    async def credit(self, purchase: Purchase) -> bool:
        if purchase.charge_id in self._purchases:
            return False
        current = self._accounts.get(purchase.user_id)
        if current is None:
            raise StorageError(f"no account {purchase.user_id} to credit")
        self._accounts[purchase.user_id] = credited(current, purchase.tokens)
        self._purchases[purchase.charge_id] = purchase
        return True

    async def take_back(self, charge_id: str, at: dt.datetime) -> bool:
        found = self._purchases.get(charge_id)
        if found is None or found.refunded_at is not None:
            return False
        current = self._accounts.get(found.user_id)
        if current is not None:
            self._accounts[found.user_id] = credited(current, -found.tokens)
        self._purchases[charge_id] = attrs.evolve(found, refunded_at=at)
        return True

    async def purchase(self, charge_id: str) -> Purchase | None:
        return self._purchases.get(charge_id)

    async def purchases(self, since: dt.datetime) -> list[Purchase]:
        return sorted((p for p in self._purchases.values() if p.at >= since), key=by_time)

    async def tokens_by_day(self, since: dt.date) -> dict[dt.date, int]:
        return {day: n for day, n in sorted(self._days.items()) if day >= since and n}

    def all(self) -> list[Account]:
        """Every account (tests check books with it)."""
        return list(self._accounts.values())

    async def close(self) -> None:
        return None


@attrs.define
class MemoryThreadStore:
    """Implements ``core.ports.ThreadStore`` in a dict."""

    _nodes: dict[tuple[str, str], Node] = attrs.field(factory=dict)

    async def get(self, chat_id: str, message_id: str) -> Node | None:
        return self._nodes.get((chat_id, message_id))

    async def links(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        return await links_by_get(self.get, chat_id, message_id, limit)

    async def add(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self._nodes[(node.chat_id, node.message_id)] = node

    def __len__(self) -> int:
        return len(self._nodes)

    async def close(self) -> None:
        return None
