"""One receiver, standbys waiting: the lock passes on when its holder is killed."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from adapters.storage.postgres.receiver import ReceiverLock
from tests.adapters.storage.postgres.helpers import start_worker

pytestmark = pytest.mark.postgres


async def readline(worker) -> str:
    return await asyncio.to_thread(worker.stdout.readline)


async def test_one_holder_at_a_time_and_release_passes_it_on(database_url):
    first = ReceiverLock(database_url, "bot", poll=0.01)
    second = ReceiverLock(database_url, "bot", poll=0.01)
    other_bot = ReceiverLock(database_url, "another bot")
    await first.acquire()
    assert not await second.try_acquire()
    assert await other_bot.try_acquire()  # each bot has its own lock
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await first.release()
    await asyncio.wait_for(waiting, 10)
    assert second.held
    assert not first.held
    await second.release()
    await other_bot.release()


async def test_a_standby_takes_over_when_the_receiver_is_killed(database_url):
    holder = start_worker("receive", database_url, "bot")
    assert await readline(holder) == "waiting\n"
    assert await readline(holder) == "receiving\n"
    standby = start_worker("receive", database_url, "bot")
    try:
        assert await readline(standby) == "waiting\n"
        # It does not receive while the holder lives.
        probe = ReceiverLock(database_url, "bot")
        assert not await probe.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        line = await asyncio.wait_for(readline(standby), 30)
        assert line == "receiving\n"
        print(f"takeover after {time.monotonic() - killed:.2f} s")
    finally:
        for worker in (holder, standby):
            worker.kill()
            worker.wait()


async def test_the_holder_learns_when_its_lock_is_lost(database_url):
    import psycopg

    lock = ReceiverLock(database_url, "bot", check=0.05)
    await lock.acquire()
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
        )
    await asyncio.wait_for(lock.lost(), 10)
    assert not lock.held
