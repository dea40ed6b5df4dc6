"""The ports: everything the core needs from the outside world, as small protocols.

Adapters implement them; the core only ever sees these shapes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from core.values import Account, Chunk, ModelRequest, Node, Totals


class ChatModel(Protocol):
    """A language model that streams an answer."""

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Yield the answer as it is produced; the last chunk carries the usage.

        Raises a ``core.errors.ModelError`` when no complete answer can be given; an answer
        cut short (no finish reason) is a ``TruncatedAnswer``, never a silent success.
        """
        ...


class AccountStore(Protocol):
    """Accounts and global totals. Reads are from memory; ``save`` is durable when it returns."""

    def get(self, user_id: int) -> Account | None:
        """The account of ``user_id``, or None for a user never seen."""
        ...

    def totals(self) -> Totals:
        """The global totals."""
        ...

    def accounts(self) -> int:
        """How many accounts are stored."""
        ...

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        """Store these accounts (and the totals) together, all or nothing, durably."""
        ...

    async def close(self) -> None:
        """Write anything pending and release the storage."""
        ...


class ThreadStore(Protocol):
    """The nodes of reply chains."""

    def get(self, chat_id: int, message_id: int) -> Node | None:
        """The node of this message, or None when the store does not have it."""
        ...

    async def add(self, nodes: Sequence[Node]) -> None:
        """Remember these nodes."""
        ...

    async def close(self) -> None:
        """Write anything pending and release the storage."""
        ...


class MessageLookup(Protocol):
    """The platform's own memory: a fallback for nodes the thread store no longer has."""

    async def lookup(self, chat_id: int, message_id: int) -> Node | None:
        """Fetch a message from the platform, or None when it cannot be found."""
        ...


class ReplyStream(Protocol):
    """One answer being written: shown as it grows, then finished."""

    async def update(self, text: str) -> None:
        """The whole answer so far (plain text); the adapter decides when to show it."""
        ...

    async def finish(self, text: str, *, markdown: bool = True) -> Sequence[int]:
        """Show the final answer (Markdown when ``markdown``); return the ids of every message
        it was sent as, in order."""
        ...


class ReplySink(Protocol):
    """How the core talks back to people."""

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        """Send a complete plain-text message; return the ids of the messages sent."""
        ...

    def stream(self, chat_id: int, reply_to: int | None) -> ReplyStream:
        """Start an answer that will be streamed into ``chat_id``."""
        ...

    async def typing(self, chat_id: int) -> None:
        """Show that an answer is being prepared."""
        ...


class TokenCounter(Protocol):
    """Estimates how many tokens a text costs."""

    def count(self, text: str) -> int:
        """Tokens in ``text``; an estimate must not be lower than the truth."""
        ...


class Clock(Protocol):
    """The time, so that tests never read the wall clock."""

    def now(self) -> dt.datetime:
        """The current local time."""
        ...
