"""Per-conversation order: jobs of one key one after another, different keys at once.

Every messenger hands its messages to the core, which queues them here under the key of their
conversation, so no messenger has to keep queues of its own (as aiogram's event isolation is a
small object given to the dispatcher, not something each transport re-implements).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Hashable

import attrs

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


@attrs.define
class Sequencer:
    """Runs the jobs submitted under one key strictly in the order they were submitted."""

    _waiting: dict[Hashable, collections.deque[tuple[Job, asyncio.Future[None]]]] = attrs.field(
        factory=dict, init=False
    )
    _workers: dict[Hashable, asyncio.Task[None]] = attrs.field(factory=dict, init=False)

    def submit(self, key: Hashable, job: Job) -> asyncio.Future[None]:
        """Queue ``job``; the future is done when it has run (with its exception, if any).
        Synchronous, so the order of calls is the order of running."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, collections.deque()).append((job, done))
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._serve(key))
        return done

    def busy(self, key: Hashable) -> bool:
        """Whether a job of ``key`` is queued or running: a new one would wait for it."""
        return key in self._workers

    async def idle(self) -> None:
        """Return when no job is queued or running."""
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _serve(self, key: Hashable) -> None:
        waiting = self._waiting[key]
        try:
            while waiting:
                job, done = waiting.popleft()
                try:
                    await job()
                except asyncio.CancelledError:
                    done.cancel()
                    raise
                except BaseException as exc:
                    if not done.cancelled():
                        done.set_exception(exc)
                else:
                    if not done.cancelled():
                        done.set_result(None)
        finally:
            for _, done in waiting:
                done.cancel()
            del self._waiting[key]
            del self._workers[key]
