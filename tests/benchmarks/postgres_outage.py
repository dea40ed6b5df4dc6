"""PostgreSQL outages under console load, at their real length:

    python -m tests.benchmarks.postgres_outage [--seconds 40] [--wait 10] [--runs 1]

Each run starts a throwaway durable cluster and runs the console bot on it (in this process,
through ``entrypoints.console.run_console``) while four users send messages in rounds; the
server is SIGKILLed (started again at once), stopped with ``pg_ctl stop -m fast`` (started
again at once), and stopped for ``--seconds``. Printed per outage: the messages and what they
came to, how long after the server was back the console answered (and charged) again, and
how long until no hold was left. The same checks as tests/e2e/test_postgres_outage.py are
made: a run that breaks a promise says so and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import psycopg

from tests.adapters.storage.postgres.cluster import Cluster
from tests.e2e import outage


def broken_promises(report: outage.Report, stored: dict[str, tuple[int, int, int]]) -> list[str]:
    found = []
    for user in outage.USERS:
        mine = [o for o in report.outcomes if o.user == user]
        if len(mine) != report.rounds:
            found.append(f"user {user}: {len(mine)} outcomes for {report.rounds} messages")
        shown = [o.charged for o in mine if o.charged]
        balance, _, tokens = stored[user]
        if tokens < sum(shown):
            found.append(f"user {user}: {sum(shown)} tokens shown charged, {tokens} stored")
        if balance != outage.START - tokens:
            found.append(f"user {user}: balance {balance} after {tokens} tokens")
    unfinished = [o for o in report.outcomes if o.answer and not o.complete]
    if unfinished:
        found.append(f"{len(unfinished)} answers not finished")
    return found


async def one(name: str, away: outage.Outage, wait: float) -> bool:
    cluster = await asyncio.to_thread(Cluster.start, durable=True)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as connection:
            connection.execute('CREATE DATABASE "outage"')
        url = cluster.url("outage")
        with tempfile.TemporaryDirectory() as folder:
            report = await outage.run(cluster, url, away, Path(folder), wait=wait)
        stored = await outage.stored(url)
    finally:
        await asyncio.to_thread(cluster.stop)
    broken = broken_promises(report, stored)
    print(f"{name}: {report.summary()}")
    for promise in broken:
        print(f"  BROKEN: {promise}")
    return not broken


async def run(seconds: float, wait: float, runs: int) -> bool:
    kept = True
    for _ in range(runs):
        kept &= await one("postmaster SIGKILL", outage.kill(), wait)
        kept &= await one("pg_ctl stop -m fast", outage.fast_stop(), wait)
        kept &= await one(f"{seconds:g} s outage", outage.fast_stop(seconds), wait)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="the long outage's length")
    parser.add_argument("--wait", type=float, default=10.0, help="DATABASE_WAIT")
    parser.add_argument("--runs", type=int, default=1, help="times to run the three outages")
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args.seconds, args.wait, args.runs)) else 1


if __name__ == "__main__":
    sys.exit(main())
