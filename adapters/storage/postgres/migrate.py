"""Schema migrations: the numbered SQL files in ``migrations/``, applied in order, once each.

A table ``schema_migrations`` records the numbers applied. Every process runs this on start;
a transaction-level advisory lock makes the second of two processes starting together wait for
the first and then find nothing left to do. Each file is applied in its own transaction with
its record, so a failure leaves the schema as of the last whole file.
"""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

_LOCK = 0x67707462_6F740001  # "gptbot" and 1: the advisory lock key of migrations
_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration shipped, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    return found


async def migrate(connection: psycopg.AsyncConnection[object]) -> list[str]:
    """Apply the migrations this database lacks; the names of those applied."""
    applied: list[str] = []
    for number, name, sql in migrations():
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            await connection.execute(_TABLE)
            cursor = await connection.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (number,)
            )
            if await cursor.fetchone() is not None:
                continue
            await connection.execute(sql.encode("utf-8"))
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (number, name)
            )
            applied.append(name)
            log.info("database schema: applied %s", name)
    return applied
