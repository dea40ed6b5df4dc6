"""How long a streamed answer may take: its first item by one deadline, then no pause longer
than the stall timeout; the two adapters (Chat Completions, the Responses API) read by it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import attrs

from core import errors

T = TypeVar("T")


@attrs.frozen
class Deadlines:
    first: float  # the event loop's time by which the first item must arrive
    first_timeout: float  # seconds, for the words of the error
    stall_timeout: float  # seconds between items, once the first is in

    @classmethod
    def from_now(cls, first_timeout: float, stall_timeout: float) -> Deadlines:
        first = asyncio.get_running_loop().time() + first_timeout
        return cls(first, first_timeout, stall_timeout)

    async def next(self, items: AsyncIterator[T], *, started: bool) -> T:
        """The next item; ``TimeoutError`` past the first deadline, or, once ``started``,
        after a pause longer than the stall timeout. ``StopAsyncIteration`` at the end."""
        if started:
            async with asyncio.timeout(self.stall_timeout):
                return await anext(items)
        async with asyncio.timeout_at(self.first):
            return await anext(items)

    def missed(self, *, started: bool) -> errors.ModelTimeout:
        """The error for a deadline missed (our own timeouts, not the SDK's read timeout)."""
        if not started:
            return errors.ModelTimeout(
                f"the model sent no answer within {self.first_timeout:g} s"
                " (OPENAI_FIRST_TOKEN_TIMEOUT)"
            )
        return errors.ModelTimeout(
            f"the answer stalled: nothing for {self.stall_timeout:g} s (OPENAI_STALL_TIMEOUT)"
        )
