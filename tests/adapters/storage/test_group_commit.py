"""The group commit both stores write through: batches, failures undone, callers cancelled."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Sequence

import pytest

from adapters.storage.group_commit import GroupCommit


class Disk:
    """A write that waits until the test lets it go, then keeps the batch or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.started = threading.Event()
        self.go = threading.Event()
        self.written: list[list[str]] = []
        self.undone: list[list[str]] = []

    def write(self, batch: Sequence[str]) -> None:
        self.started.set()
        assert self.go.wait(10)
        if self.fail:
            raise OSError("disk full")
        self.written.append(list(batch))

    def undo(self, failed: Sequence[str]) -> None:
        self.undone.append(list(failed))


async def _writing(disk: Disk) -> None:
    while not disk.started.is_set():  # the worker thread has the first batch
        await asyncio.sleep(0)
        await asyncio.to_thread(disk.started.wait, 0.01)


async def test_changes_queued_during_a_write_go_out_together_in_the_next() -> None:
    disk = Disk()
    commits: GroupCommit[str] = GroupCommit(disk.write, disk.undo)
    first = asyncio.create_task(commits.submit("a"))
    await _writing(disk)
    later = [asyncio.create_task(commits.submit(x)) for x in ("b", "c")]
    await asyncio.sleep(0)
    disk.go.set()
    await asyncio.gather(first, *later)
    assert disk.written == [["a"], ["b", "c"]]


async def test_a_caller_cancelled_while_waiting_does_not_stop_the_write() -> None:
    disk = Disk()
    commits: GroupCommit[str] = GroupCommit(disk.write, disk.undo)
    waiting = asyncio.create_task(commits.submit("a"))
    await _writing(disk)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    after = asyncio.create_task(commits.submit("b"))
    disk.go.set()
    await asyncio.wait_for(after, 10)  # not a hang: the writer outlived the cancelled caller
    await commits.drain()
    assert disk.written == [["a"], ["b"]]


async def test_a_failed_write_undoes_its_batch_and_the_queue_and_tells_every_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = Disk(fail=True)
    commits: GroupCommit[str] = GroupCommit(disk.write, disk.undo)
    first = asyncio.create_task(commits.submit("a"))
    await _writing(disk)
    cancelled = asyncio.create_task(commits.submit("b"))
    queued = asyncio.create_task(commits.submit("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    disk.go.set()
    for task in (first, queued):
        with pytest.raises(OSError, match="disk full"):
            await task
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await commits.drain()
    assert disk.undone == [["c", "b", "a"]]  # newest first
    gc.collect()  # a future whose error nobody read would complain when collected
    assert "never retrieved" not in caplog.text
