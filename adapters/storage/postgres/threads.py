"""Reply-chain nodes in PostgreSQL: a table keyed by (chat, message) with the parent.

A walk's stretch of a chain (``links``) is one recursive query, after the nodes this object
already holds; a node asked for alone (``get``) is read with up to ``read_ahead - 1`` of its
ancestors. Nodes read and added are kept in a small cache.
Only the newest ``retention`` nodes are kept: the oldest are deleted once a tenth more have
been added by this process. Reply chains are context, not money: a failed read is logged and
answered with "not found", so the walk falls back to the messenger's own lookup. A node's
attachments are one text column in the format of ``adapters/storage/attachments``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.storage import attachments as media
from adapters.storage.postgres.connect import WAIT, failed, open_pool
from core.errors import StorageError
from core.values import Link, Node, Role

log = logging.getLogger(__name__)

# The node and its ancestors, newest first. A damaged table with a cycle repeats nodes until
# the limit; the walk in the core stops at the first one it has seen.
_CHAIN = """
WITH RECURSIVE up (message, role, text, parent, attachments, depth) AS (
    SELECT message, role, text, parent, attachments, 1
    FROM nodes WHERE chat = %(chat)s AND message = %(message)s
    UNION ALL
    SELECT n.message, n.role, n.text, n.parent, n.attachments, up.depth + 1
    FROM up JOIN nodes AS n ON n.chat = %(chat)s AND n.message = up.parent
    WHERE up.depth < %(limit)s
)
SELECT message, role, text, parent, attachments FROM up ORDER BY depth
"""
# One statement for a whole batch, whatever its size.
_ADD = """
INSERT INTO nodes (chat, message, role, text, parent, attachments)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
ON CONFLICT (chat, message) DO UPDATE
SET role = excluded.role, text = excluded.text, parent = excluded.parent,
    attachments = excluded.attachments
"""
_PRUNE = """
DELETE FROM nodes
WHERE seq <= (SELECT seq FROM nodes ORDER BY seq DESC OFFSET %(keep)s LIMIT 1)
"""
READ_AHEAD = 128
CACHE = 8_192


class PostgresThreadStore:
    """``core.ports.ThreadStore`` on a PostgreSQL database."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        retention: int = 100_000,
        read_ahead: int = READ_AHEAD,
        *,
        owns_pool: bool = False,
    ) -> None:
        self._pool = pool
        self.retention = retention
        self.read_ahead = read_ahead
        self._owns_pool = owns_pool
        # Nodes read ahead or added lately, as links. Another process may replace a node
        # after it was cached; nodes are not edited in practice, and a stale one only changes
        # context.
        self._cache: dict[tuple[str, str], Link] = {}
        self._added = 0  # nodes added since the last prune
        self._lock = asyncio.Lock()  # one write at a time; the others queue behind it
        self._queue: list[Node] = []  # added, not yet being written
        self._version = 0  # adds received
        self._written = 0  # adds committed

    @classmethod
    async def open(
        cls, url: str, retention: int = 100_000, pool_size: int = 10, wait: float = WAIT
    ) -> PostgresThreadStore:
        """Connect to ``url``, bring the schema up to date; StorageError when that fails.
        ``wait``: seconds a request waits for the database while it is away."""
        pool = await open_pool(url, max_size=pool_size, wait=wait)
        return cls(pool, retention, owns_pool=True)

    async def links(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        """The node of this message and up to ``limit - 1`` ancestors, newest first: those in
        the cache, then the rest in one query. A read that fails is logged and ends the chain."""
        links: list[Link] = []
        current: str | None = message_id
        while current is not None and len(links) < limit:
            cached = self._cache.get((chat_id, current))
            if cached is None:
                break
            links.append(cached)
            current = cached[3]  # its parent
        if current is not None and len(links) < limit:
            links += await self._read(chat_id, current, limit - len(links))
        return links

    async def get(self, chat_id: str, message_id: str) -> Node | None:
        found = self._cache.get((chat_id, message_id))
        if found is None:
            read = await self._read(chat_id, message_id, self.read_ahead)
            found = read[0] if read else None
        return None if found is None else Node(chat_id, *found)

    async def _read(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        """The chain from the database, remembered in the cache; [] when it cannot be read
        (logged: reply chains are context, and the walk falls back to the messenger)."""
        params = {"chat": chat_id, "message": message_id, "limit": limit}
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(_CHAIN, params)
                rows = await cursor.fetchall()
        except Exception as exc:  # psycopg's errors, and the pool's (closed, timed out)
            log.error("%s", failed("read reply chains", exc))
            return []
        links = [_link(row) for row in rows]
        if len(self._cache) + len(links) > CACHE:
            self._cache.clear()
        for each in links:
            self._cache.setdefault((chat_id, each[0]), each)
        return links

    async def add(self, nodes: Sequence[Node]) -> None:
        """Remember the nodes; return once they are committed.

        Adds that arrive while a write is running go out together with the next one, in one
        statement (group commit): a round trip per batch rather than per answer.
        """
        self._queue.extend(nodes)
        self._version += 1
        version = self._version
        async with self._lock:
            if self._written >= version:
                return  # a write that started after our add already carried it
            batch, target = self._queue, self._version
            self._queue = []
            try:
                await self._write(batch)
            except StorageError:
                self._queue = batch + self._queue  # retried with the next add
                raise
            self._written = target
        if len(self._cache) + len(batch) > CACHE:
            self._cache.clear()
        for each in batch:  # a reply to one of them, the likely next read, costs nothing
            self._cache[(str(each.chat_id), str(each.message_id))] = each.link

    async def _write(self, nodes: list[Node]) -> None:
        batch = {(str(n.chat_id), str(n.message_id)): n for n in nodes}  # the last one wins
        columns: list[list[str | None]] = [[], [], [], [], [], []]
        for (chat, message), each in batch.items():
            role = None if each.role is None else Role(each.role).value
            parent = None if each.parent is None else str(each.parent)
            row = (chat, message, role, each.text, parent, media.encode(each.attachments))
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        prune = self._added + len(batch) > max(self.retention // 10, 1)
        try:
            async with self._pool.connection() as connection:
                await connection.execute(_ADD, columns)  # one statement: all or nothing
                self._added += len(batch)
                if prune:
                    await connection.execute(_PRUNE, {"keep": self.retention})
                    self._added = 0
        except psycopg.Error as exc:
            raise failed("save reply chains", exc) from exc

    async def count(self) -> int:
        """How many nodes are stored (a full count: for tests and tools)."""
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute("SELECT count(*) FROM nodes")
                row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise failed("count reply-chain nodes", exc) from exc
        return int(row[0]) if row else 0

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.close()


def _link(row: tuple[Any, ...]) -> Link:
    message, role, text, parent, attachments = row
    return (message, None if role is None else Role(role), text, parent, media.decode(attachments))
