"""PostgreSQL goes away under console load and comes back: the postmaster killed, a fast stop,
an outage of some seconds (``OUTAGE`` here; ``tests/benchmarks/postgres_outage.py`` runs 40 s).

Promised: every answer produced is shown, charged or marked "Not charged" (before, a charge
that could not be saved was followed by a release that failed too, which escaped before the
answer was finished: the console never printed again); the console answers again once the
server is back (waited for, not timed: the figure is the benchmark's); no acknowledged charge
is lost; no hold is left (a release that failed is tried again until it succeeds); the log
says when the server was lost and when it was reachable again.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.adapters.storage.postgres.cluster import Cluster, binaries
from tests.e2e import outage

pytestmark = pytest.mark.postgres

OUTAGE = 5.0  # seconds the server stays away in the third case
_names = itertools.count(1)


@pytest.fixture(scope="module")
def durable_cluster() -> Iterator[Cluster]:
    """A cluster of this module's own (it is killed), whose commits reach the disk: a charge
    acknowledged must survive the postmaster's SIGKILL."""
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (no initdb)")
    started = Cluster.start(durable=True)
    try:
        yield started
    finally:
        started.stop()


def _database(cluster: Cluster) -> str:
    name = f"outage_{os.getpid()}_{next(_names)}"
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


@pytest.mark.parametrize(
    "away",
    [outage.kill(), outage.fast_stop(), outage.fast_stop(OUTAGE)],
    ids=["postmaster SIGKILL", "fast stop", f"{OUTAGE:g} s outage"],
)
async def test_an_outage_under_load_keeps_every_promise(
    durable_cluster: Cluster,
    away: outage.Outage,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.storage.postgres")
    url = _database(durable_cluster)
    # A request waits 1 s for the database (10 by default): in a 5 s outage the charge and
    # then the release fail, as they do in a long outage with the default wait.
    report = await outage.run(durable_cluster, url, away, tmp_path, wait=1.0)
    print(report.summary())  # what the run came to, seen with -s

    # Every message got its outcome, and every answer was finished: charged or not.
    for user in outage.USERS:
        mine = [o for o in report.outcomes if o.user == user]
        assert len(mine) == report.rounds, report.output[-3000:]
    answers = [o for o in report.outcomes if o.answer]
    unfinished = [o.text for o in answers if not o.complete or o.tag is None]
    assert unfinished == []
    assert "(edited)" not in report.output  # no answer replaced by an error
    # No acknowledged charge lost: the database has at least every charge shown. (It may have
    # more: a commit whose acknowledgement the outage cut is shown as not charged.)
    stored = await outage.stored(url)
    for user in outage.USERS:
        shown = [o.charged for o in report.outcomes if o.user == user and o.charged]
        balance, requests, tokens = stored[user]
        assert tokens >= sum(shown)
        assert requests >= len(shown)
        assert balance == outage.START - tokens
    # The log said so.
    logged = caplog.text
    assert "lost the connection to PostgreSQL" in logged
    assert "PostgreSQL is reachable again" in logged
