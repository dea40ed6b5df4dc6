"""Connections to PostgreSQL: a pool for the stores, one plain connection for the lock.

Prepared statements are off (``prepare_threshold=None``) so the stores work behind PgBouncer
in transaction mode, where consecutive statements may reach different server connections.
Connections are in autocommit: a single statement is its own transaction, and the few
operations of several statements open one explicitly.

When the server goes away (killed, restarted, the network gone) the pool comes back by itself:
each connection is checked before it is lent (one that died while idle is replaced, not handed
to a request that would fail with it), a request waits at most ``wait`` seconds for one, and
reconnecting never stops while the server is away (psycopg_pool gives up after
``reconnect_timeout`` and doubles its delays; here it gives up after ``RECONNECT`` seconds and
is started again, so the server is found again within seconds of its return, however long it
was away). The log says when the server was lost and when it is reachable again.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.storage.postgres import nul
from adapters.storage.postgres.migrate import migrate
from core.errors import StorageError

log = logging.getLogger(__name__)

WAIT = 10.0  # seconds a request waits for a connection before it fails (by default)
RECONNECT = 5.0  # seconds of failed tries after which the pool is told to start again

# Seconds of silence before TCP asks whether the server is still there, and between asks: a
# server (or a network) that vanishes without closing the connection is noticed in seconds.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def options() -> dict[str, Any]:
    return {"autocommit": True, "prepare_threshold": None, **KEEPALIVE}


async def open_pool(
    url: str, min_size: int = 1, max_size: int = 10, wait: float = WAIT
) -> AsyncConnectionPool:
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
    health = _Health()
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs=options(),
        open=False,
        timeout=wait,
        configure=health.connected,
        check=health.check,
        reconnect_timeout=RECONNECT,
        reconnect_failed=health.reconnect_failed,
    )
    try:
        await pool.open(wait=True, timeout=30.0)
    except Exception as exc:
        await pool.close()
        raise _cannot_connect(url, exc) from None
    return pool


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    """One connection of its own; StorageError if it cannot be made."""
    try:
        connection = await psycopg.AsyncConnection.connect(url, **options())
    except psycopg.Error as exc:
        raise _cannot_connect(url, exc) from None
    nul.install(connection)
    return connection


class _Health:
    """Whether the pool's server is reachable, said in the log when it changes; and the pool
    started again when it gives up reconnecting."""

    def __init__(self) -> None:
        self.reachable = True

    def lost(self, reason: BaseException) -> None:
        if self.reachable:
            self.reachable = False
            log.error("lost the connection to PostgreSQL (%s): reconnecting", _reason(reason))

    async def connected(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """Each new connection of the pool, before it is lent."""
        nul.install(connection)
        if not self.reachable:
            self.reachable = True
            log.warning("PostgreSQL is reachable again: reconnected")

    async def check(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """A connection about to be lent: one that died while idle is dropped (the pool
        replaces it and lends another)."""
        try:
            await AsyncConnectionPool.check_connection(connection)
        except Exception as exc:
            self.lost(exc)
            raise

    async def reconnect_failed(self, pool: AsyncConnectionPool) -> None:
        """The pool gave up reconnecting after ``RECONNECT`` seconds: start again (``check``
        grows a pool that has no connection), for as long as the pool is open."""
        self.lost(psycopg.OperationalError("cannot connect"))
        if not pool.closed:
            log.info("PostgreSQL is still unreachable: trying again")
            await pool.check()


def _cannot_connect(url: str, exc: BaseException) -> StorageError:
    """The error to raise, without the library's: libpq quotes the whole address when it
    cannot parse it (an unclosed ``[``, a bad ``%`` escape), password included, and a
    traceback would print the chained error as it is."""
    return StorageError(f"cannot connect to PostgreSQL ({redact(_reason(exc), url)})")


# The password of a URL however malformed: after "scheme://user:", up to the first "@" and
# (a password with a raw "@" in it) up to the last; and any password=... in the query.
_USERINFO_PASSWORDS = (
    re.compile(r"^[^:/]*://[^:@/]*:(.*?)@", re.DOTALL),
    re.compile(r"^[^:/]*://[^:@/]*:(.*)@", re.DOTALL),
)
_QUERY_PASSWORD = re.compile(r"[?&]password=([^&#]*)", re.IGNORECASE)


def redact(text: str, url: str) -> str:
    """``text`` with every password of ``url`` in it (as written and percent-decoded)
    replaced by ``***``."""
    secrets = [m.group(1) for p in _USERINFO_PASSWORDS if (m := p.match(url))]
    # libpq ends the password at its first "@": the rest of it is quoted as the host.
    secrets += [part for secret in secrets for part in secret.split("@")]
    secrets += _QUERY_PASSWORD.findall(url)
    for secret in sorted({*secrets, *map(unquote, secrets)} - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def failed(what: str, exc: BaseException) -> StorageError:
    """The StorageError to raise ``from exc`` when ``what`` could not be done."""
    return StorageError(f"PostgreSQL: cannot {what} ({_reason(exc)})")
