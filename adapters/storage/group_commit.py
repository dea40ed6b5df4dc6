"""Group commit: writes that arrive while one is running go out together with the next one.

Both stores make each change durable with an fsync (the journal's, SQLite's commit), which takes
milliseconds; one fsync per change would cap the bot at a few hundred changes a second. Here one
writer task takes everything queued, writes it in a worker thread (so the fsync never blocks the
event loop), and wakes every caller of that batch at once.

When a write fails, the batch fails, and so does everything queued behind it: those items were
made while the failed ones were visible in memory and may have read them. ``undo`` is called
with all of them, newest first, so the store can put memory back to what is durable; each
caller then gets the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], None],
        undo: Callable[[Sequence[T]], None],
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``write`` runs in a worker thread with a batch, oldest first; ``undo`` on the event
        loop with failed items, newest first; ``after`` on the event loop after each batch
        written, before the next is taken (the JSON store folds its journal there)."""
        self._write = write
        self._undo = undo
        self._after = after
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._batch: list[tuple[T, asyncio.Future[None]]] = []  # being written
        self._writer: asyncio.Task[None] | None = None

    @property
    def pending(self) -> list[T]:
        """Items submitted and not yet known to be written, oldest first (being written too)."""
        return [item for item, _ in self._batch + self._queue]

    def enqueue(self, *items: T) -> asyncio.Future[None]:
        """Queue ``items`` (already applied in memory) now, before the caller awaits anything
        (so a ``drain`` that follows waits for them); they go out in the same batch, and the
        one future is done once they are written, or has what the write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.extend((item, done) for item in items)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._run())
        return done

    async def submit(self, item: T) -> None:
        """Queue ``item`` (already applied in memory) and return once it is written.

        Raises what the write raised. A caller cancelled while waiting does not stop the write.
        """
        await self.submit_all((item,))

    async def submit_all(self, items: Sequence[T]) -> None:
        """``submit`` for several items at once: they go out in the same batch, and one wait
        (not a task each) covers them all."""
        if not items:
            return
        # The future is this caller's alone: cancelled with it, it is skipped when its batch
        # is done (a shield would cost a second future and two callbacks per change).
        await self.enqueue(*items)

    async def _run(self) -> None:
        while self._queue:
            self._batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._write, [item for item, _ in self._batch])
            except Exception as exc:  # every caller gets it; nothing of theirs stays
                failed, self._batch, self._queue = self._batch + self._queue, [], []
                self._undo([item for item, _ in reversed(failed)])
                for _, done in failed:
                    if not done.done():
                        done.set_exception(exc)
                continue
            written, self._batch = self._batch, []
            for _, done in written:
                if not done.done():
                    done.set_result(None)
            if self._after is not None:
                try:
                    await self._after()
                except Exception:  # a bug there must not leave later callers waiting for ever
                    log.exception("after a group commit")

    async def drain(self) -> None:
        """Wait until everything submitted so far has been written or has failed."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
