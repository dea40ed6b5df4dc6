"""One receiver, any number of standbys: a PostgreSQL advisory lock on a connection of its own.

Telegram delivers a bot's updates to one connection, so of several processes of one bot only
one may receive. Each process calls ``ReceiverLock.acquire()``; the first gets the lock at once,
the others wait, trying every ``poll`` seconds. The server holds a session's advisory locks for
as long as its connection lives: when the holder dies, however (SIGKILL, power loss), its
connection closes (or, for a machine that vanished, TCP keepalive gives up on it in about 11 s)
and the next standby's try succeeds.

The holder must stop receiving when it loses the lock: ``lost()`` returns when the lock's
connection fails, so the entrypoint can stop the messenger and exit (a service manager restarts
it as a standby).

Session-level locks need a session: give this lock a direct address to the server (or a
PgBouncer pool in session mode), not one through PgBouncer in transaction mode.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import psycopg

from adapters.storage.postgres.connect import connect, failed

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of a name (e.g. the bot's username)."""
    digest = hashlib.sha256(f"gptbot receiver {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ReceiverLock:
    """The right to receive a bot's updates, held by one process at a time."""

    def __init__(self, url: str, name: str, poll: float = 0.2, check: float = 2.0) -> None:
        self.url = url
        self.key = lock_key(name)
        self.poll = poll  # seconds between a standby's tries
        self.check = check  # seconds between the holder's checks that its connection lives
        self._connection: psycopg.AsyncConnection[Any] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def try_acquire(self) -> bool:
        """Take the lock if it is free; whether this process holds it now."""
        if self._connection is not None:
            return True
        connection = await connect(self.url)
        try:
            cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            await connection.close()
            raise failed("take the receiver lock", exc) from exc
        if row and row[0]:
            self._connection = connection
            return True
        await connection.close()
        return False

    async def acquire(self) -> None:
        """Wait until this process holds the lock. One connection is kept for the tries."""
        if self._connection is not None:
            return
        connection = await connect(self.url)
        try:
            while True:
                cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
                row = await cursor.fetchone()
                if row and row[0]:
                    self._connection = connection
                    log.info("receiver lock taken: this process receives")
                    return
                await asyncio.sleep(self.poll)
        except psycopg.Error as exc:
            await connection.close()
            raise failed("wait for the receiver lock", exc) from exc
        except BaseException:
            await connection.close()
            raise

    async def lost(self) -> None:
        """Return when the lock is lost (its connection failed); wait forever while held."""
        while self._connection is not None:
            await asyncio.sleep(self.check)
            try:
                await self._connection.execute("SELECT 1")
            except psycopg.Error as exc:
                log.error("receiver lock lost: %s", exc)
                await self._drop()
                return

    async def release(self) -> None:
        """Give the lock to a standby (closing the connection releases it)."""
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
