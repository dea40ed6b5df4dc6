"""PostgreSQL benchmarks: ``python -m tests.benchmarks.postgres_bench [--quick]`` prints a table.

A throwaway cluster is started for the run (tests/adapters/storage/postgres/cluster.py) with the
server's durability on (fsync, synchronous commit): every charge is on disk when its change
returns. Measured, at 100 000 and 1 000 000 users (seeded with COPY):

- messages/s: what the stores do per message, from many conversations at once: hold, the
  settlement (``change`` with the totals and the hold's release, one transaction), the two
  reply-chain nodes. The core and the model are left out: their cost is the same for every
  store and is in bench.py's figures.
- start-up: opening both stores on a database of that size (nothing is loaded).
- takeover: a standby process taking the receiver lock after the holder is SIGKILLed.
- memory: the peak RSS of the two bot processes of the messages/s from two processes. (Until
  2026-12 the line gave this process's own peak: from bench.py that was the peak of every
  benchmark run before it in the same process, about 300 MB, none of it PostgreSQL's.)

``rows(quick)`` gives the lines, so bench.py can print them beside data.json's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time

import psycopg

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.connect import connect
from adapters.storage.postgres.migrate import migrate
from adapters.storage.postgres.threads import PostgresThreadStore
from core.values import Node, Role
from tests.adapters.storage.postgres.cluster import Cluster
from tests.fakes import Spend

START = 30_000
CONVERSATIONS = 64  # messages in flight at once, as from many chats


def create_database(cluster: Cluster, name: str) -> str:
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


async def seed(url: str, users: int) -> float:
    """``users`` accounts with COPY, in text form; the seconds it took."""
    began = time.perf_counter()
    connection = await connect(url)
    try:
        await migrate(connection)
        cursor = connection.cursor()
        async with cursor.copy("COPY accounts (id, balance, name) FROM STDIN") as copy:
            for first in range(0, users, 10_000):
                block = "".join(
                    f"{user}\t{START}\tUser {user}\n"
                    for user in range(first, min(first + 10_000, users))
                )
                await copy.write(block.encode())
        await connection.execute("ANALYZE accounts")
    finally:
        await connection.close()
    return time.perf_counter() - began


async def startup(url: str) -> float:
    """Seconds until both stores are open and have served a first read."""
    began = time.perf_counter()
    accounts = await PostgresAccountStore.open(url)
    threads = await PostgresThreadStore.open(url)
    await accounts.get("0")
    elapsed = time.perf_counter() - began
    await accounts.close()
    await threads.close()
    return elapsed


async def throughput(url: str, users: int, messages: int) -> float:
    """Messages per second: hold -> settle -> nodes, CONVERSATIONS at a time."""
    accounts = await PostgresAccountStore.open(url, pool_size=CONVERSATIONS // 2)
    threads = await PostgresThreadStore.open(url, pool_size=CONVERSATIONS // 4)
    numbers = iter(range(messages))

    async def conversation(chat: int) -> None:
        for number in numbers:
            user = str(random.randrange(users))
            hold = await accounts.hold(user, 100, 1_000)
            if hold is None:
                continue
            cost = random.randrange(50, hold.amount + 1)
            await accounts.settle(user, Spend(cost), hold)
            asked = Node(chat_id=str(chat), message_id=f"{number}q", role=Role.USER, text="hi")
            answer = Node(
                chat_id=str(chat),
                message_id=f"{number}a",
                role=Role.ASSISTANT,
                text="hello " * 20,
                parent=f"{number}q",
            )
            await threads.add([asked, answer])

    try:
        began = time.perf_counter()
        await asyncio.gather(*(conversation(chat) for chat in range(CONVERSATIONS)))
        return messages / (time.perf_counter() - began)
    finally:
        await accounts.close()
        await threads.close()


def peak_rss() -> float:
    """This process's peak resident memory in MB (VmHWM: unlike ru_maxrss, it does not start
    from the high-water mark of a parent that exec'd it)."""
    with open("/proc/self/status") as status:
        return int(status.read().split("VmHWM:")[1].split()[0]) / 1024


def two_processes(url: str, users: int, messages: int) -> tuple[float, float]:
    """Messages per second from two bot processes on one database, each doing half; and the
    larger peak RSS (MB) of the two: the memory of the bot's side, measured in processes that
    do nothing else (the benchmark's own process seeds, starts servers and, from bench.py,
    has run every other benchmark before)."""
    command = [sys.executable, "-m", "tests.benchmarks.postgres_bench", "--load", url,
               str(users), str(messages // 2)]  # fmt: skip
    began = time.perf_counter()
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    peaks = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError("a load process failed")
        peaks.append(float(out.split()[1]))
    return messages // 2 * 2 / (time.perf_counter() - began), max(peaks)


def takeover(url: str) -> float:
    """Seconds from SIGKILL of the receiving process until a standby receives."""
    command = [
        sys.executable,
        "-m",
        "tests.adapters.storage.postgres.worker",
        "receive",
        url,
        "bench",
    ]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    standby = None
    try:
        assert holder.stdout is not None
        while holder.stdout.readline() != "receiving\n":
            pass
        standby = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert standby.stdout is not None
        assert standby.stdout.readline() == "waiting\n"
        time.sleep(0.5)  # the standby is trying by now
        holder.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        holder.wait()
        line = standby.stdout.readline()
        elapsed = time.perf_counter() - killed
        if line != "receiving\n":
            raise RuntimeError(f"the standby said {line!r}")
        return elapsed
    finally:
        for process in (holder, standby):
            if process is not None:
                process.kill()
                process.wait()


def rows(quick: bool) -> list[tuple[str, str, str]]:
    sizes = (10_000,) if quick else (100_000, 1_000_000)
    messages = 1_000 if quick else 10_000
    lines: list[tuple[str, str, str]] = []

    def note(name: str, value: str, target: str = "") -> None:
        lines.append((name, value, target))
        print(f"  {name}: {value}", file=sys.stderr, flush=True)  # progress; the table follows

    cluster = Cluster.start(durable=True)
    try:
        for users in sizes:
            url = create_database(cluster, f"bench_{users}")
            seeded = asyncio.run(seed(url, users))
            note(f"PostgreSQL: seeding {users:,} users with COPY", f"{seeded:.1f} s")
            opened = statistics.median(asyncio.run(startup(url)) for _ in range(3))
            note(f"PostgreSQL: start-up, {users:,} users", f"{opened:.3f} s", "<= 0.5 s")
            rate = asyncio.run(throughput(url, users, messages))
            note(
                f"PostgreSQL: hold+settle+nodes, {users:,} users, fsync on",
                f"{rate:,.0f} msg/s",
                ">= 1,000 msg/s at 1,000,000 users",
            )
            rate, peak = two_processes(url, users, messages)
            note("  the same from two processes on one database", f"{rate:,.0f} msg/s")
        times = [takeover(cluster.url()) for _ in range(3)]
        note("PostgreSQL: standby takes over after SIGKILL (worst of 3)", f"{max(times):.2f} s",
             "<= 5 s")  # fmt: skip
        note(
            f"PostgreSQL: peak RSS of a bot process, {sizes[-1]:,} users (reserve+settle+nodes)",
            f"{peak:.0f} MB",
            "<= 100 MB",
        )
    finally:
        cluster.stop()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--load", nargs=3, metavar=("URL", "USERS", "MESSAGES"), help="internal")
    args = parser.parse_args(argv)
    # Stopped by a timeout or ^C: leave by the finally clauses, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.load:  # one of two_processes' children
        url, users, messages = args.load
        print(asyncio.run(throughput(url, int(users), int(messages))), peak_rss())
        return 0
    print(
        f"gptbot PostgreSQL benchmarks, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    lines = rows(args.quick)
    width = max(len(r[0]) for r in lines)
    for name, value, target in lines:
        print(f"{name:<{width}}  {value:>14}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
