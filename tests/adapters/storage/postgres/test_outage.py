"""The stores when the server goes away and comes back: a hold whose release failed is given
back once the server is back (not when its 15-minute lease ends), and the pool reconnects by
itself and says so. Each test waits for the event it needs, with a generous deadline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from core.errors import StorageError
from core.values import Account
from tests.adapters.storage.postgres.cluster import Cluster, binaries

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Cluster]:
    """A cluster of this module's own: its server is stopped and killed. Durable: without
    synchronous commits, a SIGKILL loses what was committed last (the schema, even)."""
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (no initdb)")
    started = Cluster.start(durable=True)
    try:
        yield started
    finally:
        started.stop()


async def until(check: Callable[[], Awaitable[bool]], deadline: float = 60.0) -> None:
    """Wait until ``check()`` is true."""
    give_up = time.monotonic() + deadline
    while not await check():
        if time.monotonic() > give_up:
            raise TimeoutError("it never happened")
        await asyncio.sleep(0.05)


async def test_a_release_that_failed_is_given_back_once_the_server_returns(
    own_cluster: Cluster,
) -> None:
    store = await PostgresAccountStore.open(own_cluster.url(), wait=0.5)
    try:
        await store.register(Account(user_id="released", balance=100))
        hold = await store.hold("released", 40, 40)
        assert hold is not None
        await asyncio.to_thread(own_cluster.stop_server, "fast")
        try:
            with pytest.raises(StorageError):
                await store.release(hold)
            assert store.releasing == 1
        finally:
            await asyncio.to_thread(own_cluster.start_server)

        async def given_back() -> bool:
            try:
                return await store.held("released") == 0 and store.releasing == 0
            except StorageError:
                return False

        await until(given_back)
        account = await store.get("released")
        assert account is not None
        assert account.balance == 100
    finally:
        await store.close()


async def test_the_pool_reconnects_after_the_server_was_killed_and_says_so(
    own_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.storage.postgres")
    store = await PostgresAccountStore.open(own_cluster.url(), pool_size=4)
    try:
        await store.register(Account(user_id="back", balance=100))
        await asyncio.to_thread(own_cluster.kill_server)
        await asyncio.to_thread(own_cluster.start_server)
        # The pool's connections all died with the server: none is lent to a request, which
        # is served on a new one.
        account = await store.get("back")
        assert account is not None
        assert "lost the connection to PostgreSQL" in caplog.text
        assert "PostgreSQL is reachable again" in caplog.text
    finally:
        await store.close()
