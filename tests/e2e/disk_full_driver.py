"""The account store under load, for ``test_disk_full``: ``python -m tests.e2e.disk_full_driver
FOLDER RUN`` charges random users concurrently and prints each outcome as it happens.

    started                 the store opened (a refused start prints a traceback instead)
    start <op> <user> <n>   a charge of n tokens is about to be applied
    ok <op>                 it is durable (what the bot would acknowledge with "Tokens used")
    failed <op>             StorageError: the bot would say nothing was charged

Each charge also sets the user's prompt to "op <op> ...", so the file shows which charge was
the last one applied. ``FOLDER dump`` prints the accounts as JSON instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sys
from pathlib import Path

import attrs

from adapters.storage.json.accounts import JsonAccounts
from core.errors import StorageError
from core.values import Account, Totals
from tests.fakes import Entry

USERS = [str(n) for n in range(1, 9)]
SNAPSHOT_EVERY = 5  # small, so that kills and full disks land in snapshots too
PADDING = (0, 0, 0, 200, 3_000, 9_000)  # some records big enough to tear on a full disk


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def charge(store: JsonAccounts, op: int, user: str, amount: int, pad: int) -> None:
    def apply(account: Account) -> Account:
        return attrs.evolve(
            account,
            balance=account.balance - amount,
            tokens=account.tokens + amount,
            requests=account.requests + 1,
            prompt=f"op {op} " + "x" * pad,
        )

    say(f"start {op} {user} {amount}")
    try:
        changed = await store.settle(user, Entry(apply, Totals(1, amount)))
    except StorageError:
        say(f"failed {op}")
        return
    say(f"ok {op}" if changed is not None else f"unknown {op}")


async def run(folder: Path, number: int) -> None:
    store = JsonAccounts.open(folder / "data.json", snapshot_every=SNAPSHOT_EVERY)
    say("started")
    rng = random.Random(number)
    for user in USERS:
        # On a full disk, charges to this user are "unknown" until a later run registers it.
        with contextlib.suppress(StorageError):
            await store.register(Account(user_id=user, balance=10**9))
    op = number * 1_000_000
    while True:
        batch = []
        for _ in range(rng.randint(1, 8)):
            op += 1
            user, amount, pad = rng.choice(USERS), rng.randint(1, 50), rng.choice(PADDING)
            batch.append(asyncio.create_task(charge(store, op, user, amount, pad)))
        await asyncio.gather(*batch)
        await asyncio.sleep(rng.uniform(0, 0.01))


async def dump(folder: Path) -> None:
    store = JsonAccounts.open(folder / "data.json", snapshot_every=SNAPSHOT_EVERY)
    accounts = {}
    for user in USERS:
        account = await store.get(user)
        if account is not None:
            accounts[user] = [account.requests, account.tokens, account.balance, account.prompt]
    totals = await store.totals()
    await store.close()
    print(json.dumps({"accounts": accounts, "totals": [totals.requests, totals.tokens]}))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    where = Path(sys.argv[1])
    asyncio.run(dump(where) if sys.argv[2] == "dump" else run(where, int(sys.argv[2])))
