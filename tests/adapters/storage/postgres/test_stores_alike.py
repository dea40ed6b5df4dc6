"""The PostgreSQL stores keep what the in-memory stores keep, the chosen model and a node's
attachments included (the steps of tests/adapters/storage/test_stores_alike.py), and a second
opening reads back what was acknowledged."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.threads import PostgresThreadStore
from tests.adapters.storage.postgres.cluster import Cluster
from tests.adapters.storage.postgres.test_core_on_postgres import _fresh_database
from tests.adapters.storage.test_stores_alike import Stores, play_alike, steps

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # slow: a property run on PostgreSQL


def test_postgresql_keeps_what_the_memory_stores_keep(cluster: Cluster) -> None:
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def check(played: list[list[object]]) -> None:
        url = _fresh_database(cluster)

        async def open_database() -> Stores:
            return (
                await PostgresAccountStore.open(url, pool_size=2),
                await PostgresThreadStore.open(url, pool_size=2),
            )

        asyncio.run(play_alike(played, open_database))

    check()
