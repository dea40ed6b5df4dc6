"""In-memory stores: for tests, benchmarks and trying things out. Nothing survives the process."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from core.values import Account, Node, Totals


@attrs.define
class MemoryAccountStore:
    """Implements ``core.ports.AccountStore`` in a dict."""

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
class MemoryThreadStore:
    """Implements ``core.ports.ThreadStore`` in a dict."""

    _nodes: dict[tuple[int, int], Node] = attrs.field(factory=dict)

    def get(self, chat_id: int, message_id: int) -> Node | None:
        return self._nodes.get((chat_id, message_id))

    async def add(self, nodes: Sequence[Node]) -> None:
        for node in nodes:
            self._nodes[(node.chat_id, node.message_id)] = node

    async def close(self) -> None:
        return None
