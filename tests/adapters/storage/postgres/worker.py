"""A bot-like process for the multi-process tests:
``python -m tests.adapters.storage.postgres.worker``.

load URL USERS ROUNDS LEASE_SECONDS   hold -> settle (charging the whole hold) on random
                                      users; prints "ready" after the first settlement
receive URL NAME                      takes the receiver lock, prints "receiving", waits
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sys

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.receiver import ReceiverLock
from tests.fakes import Spend


async def load(url: str, users: int, rounds: int, lease: float, tasks: int = 8) -> None:
    store = await PostgresAccountStore.open(url, lease=dt.timedelta(seconds=lease))
    ready = asyncio.Event()

    async def one_task() -> None:
        for _ in range(rounds):
            user = str(random.randrange(users))
            hold = await store.hold(user, 10, 100)
            if hold is None:
                continue
            await store.settle(user, Spend(hold.amount), hold)
            if not ready.is_set():
                ready.set()
                print("ready", flush=True)

    await asyncio.gather(*(one_task() for _ in range(tasks)))
    await store.close()
    print("done", flush=True)


async def receive(url: str, name: str) -> None:
    lock = ReceiverLock(url, name, poll=0.05)
    print("waiting", flush=True)
    await lock.acquire()
    print("receiving", flush=True)
    await lock.lost()


def main() -> None:
    mode, url, *rest = sys.argv[1:]
    if mode == "load":
        asyncio.run(load(url, int(rest[0]), int(rest[1]), float(rest[2])))
    elif mode == "receive":
        asyncio.run(receive(url, rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
