"""Connections to PostgreSQL: a pool for the stores, one plain connection for the lock.

Prepared statements are off (``prepare_threshold=None``) so the stores work behind PgBouncer
in transaction mode, where consecutive statements may reach different server connections.
Connections are in autocommit: a single statement is its own transaction, and the few
operations of several statements open one explicitly.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.storage.postgres.migrate import migrate
from core.errors import StorageError

# Seconds of silence before TCP asks whether the server is still there, and between asks: a
# server (or a network) that vanishes without closing the connection is noticed in seconds.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def options() -> dict[str, Any]:
    return {"autocommit": True, "prepare_threshold": None, **KEEPALIVE}


async def open_pool(url: str, min_size: int = 1, max_size: int = 10) -> AsyncConnectionPool:
    """A pool of connections to ``url`` with the schema up to date; StorageError if not.

    One connection is made first, on its own: a wrong address or password is reported at
    once, in the server's words, rather than after the pool has retried for its timeout.
    """
    first = await connect(url)
    try:
        await migrate(first)
    except psycopg.Error as exc:
        raise failed("bring the schema up to date", exc) from exc
    finally:
        await first.close()
    pool = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, kwargs=options(), open=False, timeout=30.0
    )
    try:
        await pool.open(wait=True, timeout=30.0)
    except Exception as exc:
        await pool.close()
        raise StorageError(f"cannot connect to PostgreSQL ({_reason(exc)})") from exc
    return pool


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    """One connection of its own; StorageError if it cannot be made."""
    try:
        return await psycopg.AsyncConnection.connect(url, **options())
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to PostgreSQL ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def failed(what: str, exc: BaseException) -> StorageError:
    """The StorageError to raise ``from exc`` when ``what`` could not be done."""
    return StorageError(f"PostgreSQL: cannot {what} ({_reason(exc)})")
