"""A real PostgreSQL server for these tests: one throwaway cluster per session, a fresh
database per test.

Where PostgreSQL is not installed the tests are skipped, and the run says so loudly at the end
(``.ci/run`` installs it; with GPTBOT_REQUIRE_POSTGRES=1, as in CI, a missing server fails).
The loud line is tests/conftest.py's, from the skips' reports: it shows in parallel runs too.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import warnings
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.threads import PostgresThreadStore
from tests.adapters.storage.postgres.cluster import Cluster, binaries

_names = itertools.count(1)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if binaries() is None:
        message = (
            "PostgreSQL is not installed (no initdb): the PostgreSQL adapter's tests are SKIPPED. "
            "Install it (apt-get install postgresql; .ci/run does) or set PG_BIN."
        )
        if os.environ.get("GPTBOT_REQUIRE_POSTGRES"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    started = Cluster.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def database_url(cluster: Cluster) -> Iterator[str]:
    """The address of a new, empty database, dropped after the test (the cluster lives in
    memory where it can: a hundred tests' databases would take most of a gigabyte)."""
    name = f"test_{os.getpid()}_{next(_names)}"
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield cluster.url(name)
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(cluster.url(), autocommit=True) as connection,
    ):
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def accounts(database_url: str) -> AsyncIterator[PostgresAccountStore]:
    store = await PostgresAccountStore.open(database_url)
    yield store
    await store.close()


@pytest.fixture
async def threads(database_url: str) -> AsyncIterator[PostgresThreadStore]:
    store = await PostgresThreadStore.open(database_url)
    yield store
    await store.close()
