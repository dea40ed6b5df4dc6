"""In-memory stores: for tests, benchmarks and trying things out. Nothing survives the process."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from adapters.storage.holds import Hold, Holds
from core.values import Account, Node, Totals


@attrs.define
class MemoryAccounts:
    """``core.ports.AccountStore`` (contract v2) in a dict: ids are text."""

    _accounts: dict[str, Account] = attrs.field(factory=dict)
    _totals: Totals = attrs.field(factory=Totals)
    _holds: Holds = attrs.field(factory=Holds)

    async def get(self, user_id: str) -> Account | None:
        return self._accounts.get(user_id)

    async def totals(self) -> Totals:
        return self._totals

    async def count(self) -> int:
        return len(self._accounts)

    async def held(self, user_id: str) -> int:
        return self._holds.held(user_id)

    async def register(self, account: Account) -> Account:
        key = str(account.user_id)
        existing = self._accounts.get(key)
        if existing is None:
            existing = self._accounts[key] = attrs.evolve(account, user_id=key)  # type: ignore[arg-type]  # text ids (core v2)
        return existing

    async def reserve(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        account = self._accounts.get(user_id)
        if account is None:
            return None
        return self._holds.reserve(user_id, account.balance, minimum, maximum)

    async def release(self, hold: Hold) -> None:
        self._holds.give_back(hold)

    async def change(
        self,
        user_id: str,
        change: Callable[[Account], Account],
        totals: Callable[[Totals], Totals] | None = None,
        release: Hold | None = None,
    ) -> Account | None:
        current = self._accounts.get(user_id)
        if current is None:
            return None
        account = self._accounts[user_id] = attrs.evolve(change(current), user_id=user_id)  # type: ignore[arg-type]  # text ids (core v2)
        if totals is not None:
            self._totals = totals(self._totals)
        if release is not None:
            self._holds.give_back(release)
        return account

    async def close(self) -> None:
        return None


@attrs.define
class MemoryAccountStore:
    """The old core's ``AccountStore`` (int ids, synchronous reads): goes with contract v2."""

    _accounts: dict[int, Account] = attrs.field(factory=dict)
    _totals: Totals = attrs.field(factory=Totals)

    def get(self, user_id: int) -> Account | None:
        return self._accounts.get(user_id)

    def totals(self) -> Totals:
        return self._totals

    def accounts(self) -> int:
        return len(self._accounts)

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        for account in accounts:
            self._accounts[account.user_id] = account
        if totals is not None:
            self._totals = totals

    async def close(self) -> None:
        return None


@attrs.define
class MemoryThreads:
    """``core.ports.ThreadStore`` (contract v2) in a dict: ids are text, ``get`` is async."""

    _nodes: dict[tuple[str, str], Node] = attrs.field(factory=dict)

    async def get(self, chat_id: str, message_id: str) -> Node | None:
        return self._nodes.get((chat_id, message_id))

    async def add(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self._nodes[(str(node.chat_id), str(node.message_id))] = node

    async def close(self) -> None:
        return None


@attrs.define
class MemoryThreadStore:
    """The old core's ``ThreadStore`` (int ids, synchronous ``get``): goes with contract v2."""

    _nodes: dict[tuple[int, int], Node] = attrs.field(factory=dict)

    def get(self, chat_id: int, message_id: int) -> Node | None:
        return self._nodes.get((chat_id, message_id))

    async def add(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self._nodes[(node.chat_id, node.message_id)] = node

    async def close(self) -> None:
        return None
