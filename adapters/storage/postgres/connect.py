"""Connections to PostgreSQL: a pool for the stores, one plain connection for the lock.

Prepared statements are off (``prepare_threshold=None``) so the stores work behind PgBouncer
in transaction mode, where consecutive statements may reach different server connections.
Connections are in autocommit: a single statement is its own transaction, and the few
operations of several statements open one explicitly.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

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
        raise _cannot_connect(url, exc) from None
    return pool


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    """One connection of its own; StorageError if it cannot be made."""
    try:
        return await psycopg.AsyncConnection.connect(url, **options())
    except psycopg.Error as exc:
        raise _cannot_connect(url, exc) from None


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
