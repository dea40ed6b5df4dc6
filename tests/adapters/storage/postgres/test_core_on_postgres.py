"""The core's property scenarios (tests/unit/test_properties.py) on the PostgreSQL stores: the
same interleavings of answers, failures, commands and top-ups, the same invariants (balances
never below zero, footers equal the charges, totals equal the sum), with the money in SQL."""

from __future__ import annotations

import asyncio
import itertools
import os

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.threads import PostgresThreadStore
from tests.adapters.storage.postgres.cluster import Cluster
from tests.unit.test_properties import _TWO_IN_FLIGHT, Scenario, play_on, scenarios

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # slow: property runs on PostgreSQL
_names = itertools.count(1)


async def play_on_postgres(scenario: Scenario, url: str) -> None:
    accounts = await PostgresAccountStore.open(url)
    threads = await PostgresThreadStore.open(url)
    try:
        # The totals are compared with the sum over accounts once nothing is in flight: read
        # one after the other from a database, they need not be of one moment before that.
        await play_on(scenario, accounts, threads, snapshot_reads=False)
    finally:
        await threads.close()
        await accounts.close()


def _fresh_database(cluster: Cluster) -> str:
    name = f"props_{os.getpid()}_{next(_names)}"
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


def test_two_requests_in_flight_cannot_overdraw_on_postgresql(cluster: Cluster) -> None:
    asyncio.run(play_on_postgres(_TWO_IN_FLIGHT, _fresh_database(cluster)))


def test_invariants_hold_for_any_interleaving_on_postgresql(cluster: Cluster) -> None:
    @settings(max_examples=25, suppress_health_check=list(HealthCheck))
    @given(scenarios())
    def check(scenario: Scenario) -> None:
        asyncio.run(play_on_postgres(scenario, _fresh_database(cluster)))

    check()
