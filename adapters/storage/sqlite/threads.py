"""Reply-chain nodes in an SQLite database next to data.json (the standard library's sqlite3).

Nodes are not part of the seed's data.json format, so they live apart. They are kept on disk,
not in memory: start-up does not read them, and a million nodes cost no more memory than ten.
A walk's stretch of a chain (``links``) is read after the nodes this object already holds
(added lately, or read by an earlier walk: the next message of a conversation walks the same
chain again): first the chat's nodes at and below the message in the index's order, one range
scan, following the parents among them (a conversation's messages sit close together in its
chat, and a scanned row costs about a third of a recursive step); where the chain leaves that
range (a group's conversations interleaved, ids that are not numbers), one recursive query
goes on from there.

Reads and writes run in worker threads, so neither a query nor a commit's fsync blocks the event
loop; adds that arrive while one is being written are committed together with the next
(``group_commit``). The database is in WAL mode with full synchronisation: an add returns once
its nodes are on disk, and a crash at any moment leaves the database as of the last commit.

Ids are text in and out; the columns stay INTEGER, so an id that is a number as
``str(int)`` writes it is stored as a number, text that SQLite would turn into one ("05", "1.0")
as its UTF-8 bytes, so that it comes back as written, and any other text as text. A
pass-through node (role None: an error message the bot sent, which a walk goes through without
a turn) is stored with the role "".
A node's attachments (the pictures of its turn) are one nullable TEXT column in the format of
``attachments``; databases made before it existed get the column when first opened (an older
version of the bot still reads and writes such a database: it names its columns).

Only about the newest ``retention`` nodes are kept: the oldest are deleted in batches. Reply
chains are context, not money: a database that cannot be opened is set aside (renamed with
``.corrupt-<time>``) and an empty one started, with a warning in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from adapters.storage import attachments as media
from adapters.storage.files import FILE_MODE, make_private
from adapters.storage.group_commit import GroupCommit
from core.errors import StorageError
from core.values import Link, Node, Role

log = logging.getLogger(__name__)

_ROLES: dict[str, Role | None] = {"u": Role.USER, "a": Role.ASSISTANT, "": None}
_CODES = {role: code for code, role in _ROLES.items()}
_DAMAGED = Role.SYSTEM  # a role no stored node has: what ``_read`` gets for an unknown code
_Key = tuple[str, str]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    chat INTEGER NOT NULL,
    message INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    parent INTEGER,
    seq INTEGER NOT NULL,
    attachments TEXT,
    PRIMARY KEY (chat, message)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_by_age ON nodes (seq);
"""
# A node and up to ``?3 - 1`` of its ancestors, newest first. A damaged database with a cycle
# repeats nodes until the limit; the walk in the core stops at the first one it has seen. The
# LIMIT inside the recursive query ends the recursion once that many rows are out (SQLite's
# documented rule), cheaper than carrying a depth through every step.
_CHAIN = """
WITH RECURSIVE up (message, role, text, parent, attachments) AS (
    SELECT message, role, text, parent, attachments FROM nodes WHERE chat = ?1 AND message = ?2
    UNION ALL
    SELECT n.message, n.role, n.text, n.parent, n.attachments
    FROM up JOIN nodes AS n ON n.chat = ?1 AND n.message = up.parent
    LIMIT ?3
)
SELECT CAST(message AS TEXT), role, text, CAST(parent AS TEXT), attachments FROM up
"""
# The chat's nodes with a number id at or below ?2, newest first: the rows a range scan of the
# primary key gives in order (text and bytes sort after every number, so none comes out).
_BELOW = """
SELECT message, role, text, parent, attachments FROM nodes
WHERE chat = ?1 AND message <= ?2 ORDER BY message DESC LIMIT ?3
"""
# Rows of the range scan that are not on the chain, beyond the nodes taken, after which the
# recursive query is cheaper than scanning on (a busy group's other conversations).
_STRAYS = 64
# Rows of the range scan fetched first: enough for a short conversation at once, few enough that
# a group's interleaved rows are mostly not fetched before the row by row walk takes over.
_FIRST_BATCH = 64
_TEXT = {str}
CACHE = 8_192  # nodes kept from reads and adds; the reads are cheap, the memory is not
_PUT = """
INSERT OR REPLACE INTO nodes (chat, message, role, text, parent, seq, attachments)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


def _stored(value: str) -> str | bytes:
    """How an id is stored. Text a number column would convert ("05" into 5, "1.0" into 1.0)
    goes in as bytes, which no column converts; ``float`` accepts more than SQLite does, which
    only sends a few more ids that way."""
    digits = value[1:] if value[:1] == "-" else value
    if digits.isdigit() and digits.isascii() and digits[0] != "0" and len(digits) < 19:
        return value  # the usual id, a number as str(int) writes it: stored as that number
    try:
        float(value)
    except ValueError:
        return value
    try:
        number = int(value)
    except ValueError:
        return value.encode()
    return value if str(number) == value and -(2**63) <= number < 2**63 else value.encode()


def _text_id(stored: int | str | bytes) -> str:
    """An id as text, the way it was stored (the inverse of ``_stored``)."""
    if type(stored) is bytes:
        return stored.decode()
    return str(stored)


def _contiguous(rows: list[tuple[Any, ...]], want: object) -> list[Link] | None:
    """The links of ``rows`` (of ``_BELOW``) when they are all the chain from ``want``, in
    order and undamaged, built without a Python step per row; None otherwise (or for none)."""
    if not rows or rows[0][0] != want:
        return None
    messages, roles, texts, parents, attachments = zip(*rows, strict=True)
    whole = len(messages)
    if messages[1:] != parents[:-1]:
        return None  # a gap: another conversation's rows, or a parent that is no number
    kinds = list(map(_ROLES.get, roles, itertools.repeat(_DAMAGED)))
    if _DAMAGED in kinds or set(map(type, texts)) != _TEXT:
        return None  # the row by row walk stops where the damage is
    ids = list(map(str, messages))
    last = parents[-1]
    ups = [*ids[1:], None if last is None else _text_id(last)]
    if attachments.count(None) < whole:  # "" and damaged values are decoded as row by row
        pictures = [() if each is None else media.decode(each) for each in attachments]
    else:
        pictures = [()] * whole
    return list(zip(ids, kinds, texts, ups, pictures, strict=True))


def _connect(path: Path, busy_timeout: float, *, thread_safe: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=not thread_safe, timeout=busy_timeout
    )
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    return connection


class SqliteThreads:
    """``core.ports.ThreadStore`` on an SQLite database file."""

    def __init__(
        self, path: Path, reader: sqlite3.Connection, writer: sqlite3.Connection, retention: int
    ) -> None:
        self.path = path
        self.retention = retention
        self._reader = reader  # used by one thread at a time: ``_reading``
        self._reading = threading.Lock()
        self._writer = writer  # used only by the group commit's worker thread
        self._pending: dict[_Key, Node] = {}  # added, not yet committed
        # Nodes read or added lately, as links by chat and message id (``_cached`` of them).
        # The database changes only through this object, so an entry is never stale: an add
        # replaces it, and a node deleted by the retention may still be served, which only
        # gives a walk more context.
        self._cache: dict[str, dict[str, Link]] = {}
        self._cached = 0
        self._commits: GroupCommit[Node] = GroupCommit(self._commit, self._keep_for_retry)
        self._retry: list[Node] = []  # failed to commit: tried again with the next add
        # Two subqueries, each one step down the index: min and max in one SELECT scan the
        # whole table (SQLite's min/max shortcut takes a lone aggregate only).
        query = "SELECT (SELECT min(seq) FROM nodes), (SELECT max(seq) FROM nodes)"
        oldest, newest = reader.execute(query).fetchone()
        self._next_seq = (newest or 0) + 1
        self._oldest = oldest or 1

    @classmethod
    def open(cls, path: Path, retention: int = 100_000, busy_timeout: float = 30.0) -> Self:
        """Open or create the database; raises StorageError when neither can be done.

        ``busy_timeout``: how long a write waits for a lock another process holds on the file.
        """
        try:
            return cls._open(path, retention, busy_timeout)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _damaged(exc):
                raise StorageError(f"{path}: cannot open the reply-chain database ({exc})") from exc
            aside = path.with_name(f"{path.name}.corrupt-{dt.datetime.now():%Y%m%d-%H%M%S}")
            log.warning("%s: %s; set aside as %s, starting with no reply chains", path, exc, aside)
            try:
                for suffix in ("", "-wal", "-shm"):
                    source = path.with_name(path.name + suffix)
                    if source.exists():
                        source.rename(aside.with_name(aside.name + suffix))
                return cls._open(path, retention, busy_timeout)
            except (OSError, sqlite3.Error) as again:
                raise StorageError(f"{path}: cannot start a new database ({again})") from again
        except OSError as exc:
            raise StorageError(f"{path}: cannot open the reply-chain database ({exc})") from exc

    @classmethod
    def _open(cls, path: Path, retention: int, busy_timeout: float) -> Self:
        # Created with the owner's permissions only; SQLite gives its -wal and -shm the same.
        # Files an older version made 0644 are tightened.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        for suffix in ("", "-wal", "-shm"):
            make_private(path.with_name(path.name + suffix))
        writer = _connect(path, busy_timeout, thread_safe=True)
        reader = None
        try:
            writer.executescript(_SCHEMA)
            _add_attachments_column(writer)
            reader = _connect(path, busy_timeout, thread_safe=True)
            return cls(path, reader, writer, retention)
        except BaseException:
            if reader is not None:
                reader.close()
            writer.close()
            raise

    async def get(self, chat_id: str, message_id: str) -> Node | None:
        """The node, or None; the database is read in a worker thread."""
        found = await self.links(chat_id, message_id, 1)
        return Node(chat_id, *found[0]) if found else None

    async def links(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        """The node and its ancestors, newest first, at most ``limit``: those held in memory,
        then the rest in one query, in a worker thread."""
        links: list[Link] = []
        current: str | None = message_id
        pending = self._pending
        cached = self._cache.get(chat_id, {})
        while current is not None and len(links) < limit:
            added = pending.get((chat_id, current)) if pending else None
            link = cached.get(current) if added is None else added.link
            if link is None:
                break
            links.append(link)
            current = link[3]  # its parent
        if current is None or len(links) >= limit:
            return links
        read = await asyncio.to_thread(self._read, chat_id, current, limit - len(links))
        # The next message of this conversation walks them again. An add that replaced one of
        # them while the read ran has cached the newer node: what the read found does not
        # take its place.
        self._keep(chat_id, read, replace=False)
        links += read
        return links

    def _keep(self, chat_id: str, links: Sequence[Link], *, replace: bool = True) -> None:
        """Cache ``links`` of ``chat_id`` (``replace``: over those cached); the whole cache
        is dropped when it would grow beyond ``CACHE``."""
        if not links:
            return
        if self._cached + len(links) > CACHE:
            self._cache.clear()
            self._cached = 0
        cached = self._cache.setdefault(chat_id, {})
        before = len(cached)
        if replace:
            for link in links:
                cached[link[0]] = link
        else:
            for link in links:
                cached.setdefault(link[0], link)
        self._cached += len(cached) - before

    def _read(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        """The chain from the database (run in a worker thread); [] when it cannot be read."""
        chat, start = _stored(chat_id), _stored(message_id)
        try:
            with self._reading:
                links, rest = self._scan(chat, start, limit)
                if rest is None or len(links) >= limit:
                    return links
                rows = self._reader.execute(_CHAIN, (chat, rest, limit - len(links))).fetchall()
        except sqlite3.Error as exc:
            log.error("%s: cannot read reply chains (%s)", self.path, exc)
            return []
        append, kind_of = links.append, _ROLES.get
        for message, role, text, parent, attachments in rows:
            kind = kind_of(role, _DAMAGED)
            if kind is _DAMAGED or type(text) is not str:
                break  # a damaged row is no link of a conversation, nor are its ancestors
            # Ids come back as text whether stored as numbers, text or bytes (see ``_stored``).
            pictures = () if attachments is None else media.decode(attachments)
            append((message, kind, text, parent, pictures))
        return links

    def _scan(
        self, chat: str | bytes, start: str | bytes, limit: int
    ) -> tuple[list[Link], str | bytes | int | None]:
        """The chain's links found by the range scan, and the stored id where the rest of the
        chain is to be read by the recursive query (None: the chain ended, or was damaged)."""
        try:  # text ``_stored`` keeps as text is a number as str(int) writes it, or no number
            want: int | str | bytes | None = int(start) if type(start) is str else None
        except ValueError:
            want = None
        if want is None:
            return [], start  # not stored as a number: never in the range
        rows = self._reader.execute(_BELOW, (chat, want, limit + min(limit, _STRAYS)))
        # The usual chain, a conversation alone in its stretch of the chat, is contiguous: each
        # row's parent is the next row. Such rows are taken a batch at a time (``_contiguous``);
        # the first batch is small, so a busy group's interleaved rows are not all fetched first.
        links: list[Link] = []
        size = min(limit, _FIRST_BATCH)
        batch = rows.fetchmany(size)
        while (taken := _contiguous(batch, want)) is not None:
            links += taken
            want = batch[-1][3]  # the last one's parent
            if len(links) >= limit or type(want) is not int or len(batch) < size:
                return links, want  # the limit, the chain's end, or no more rows in the range
            # Each batch as long as the stretch so far: rows fetched beyond where the chain
            # breaks are never more than those taken.
            size = min(len(links), limit - len(links))
            batch = rows.fetchmany(size)
        strays = 0
        append, kind_of = links.append, _ROLES.get
        for message, role, text, parent, attachments in itertools.chain(batch, rows):
            if message != want:
                if message < want:  # both numbers (see _BELOW)
                    break  # not stored as a number (or not stored): the query looks
                strays += 1
                if strays > _STRAYS + len(links):
                    break
                continue
            kind = kind_of(role, _DAMAGED)
            if kind is _DAMAGED or type(text) is not str:
                return links, None  # a damaged row ends the chain, as in the query
            pictures = () if attachments is None else media.decode(attachments)
            up = None if parent is None else _text_id(parent)
            append((str(message), kind, text, up, pictures))
            want = parent
            if type(want) is not int or len(links) >= limit:
                break
        return links, want

    def __len__(self) -> int:
        """How many nodes are stored (a full count: for tests and tools, not the hot path)."""
        with self._reading:
            (count,) = self._reader.execute("SELECT count(*) FROM nodes").fetchone()
        return int(count)

    def last_message_id(self) -> int:
        """The highest numeric message id stored, in any chat; 0 when there is none."""
        with self._reading:
            query = "SELECT max(message) FROM nodes WHERE typeof(message) = 'integer'"
            (newest,) = self._reader.execute(query).fetchone()
        pending = [int(m) for _, m in self._pending if m.lstrip("-").isdigit()]
        return max([newest or 0, *pending])

    def durability(self) -> tuple[str, int]:
        """How the writer commits, as SQLite reports it: the journal mode and the
        ``synchronous`` level. An add is on disk when it returns only at ("wal", 2), FULL; at
        NORMAL (1) a power cut can take back commits already reported. Call between adds."""
        (mode,) = self._writer.execute("PRAGMA journal_mode").fetchone()
        (level,) = self._writer.execute("PRAGMA synchronous").fetchone()
        return str(mode), int(level)

    async def add(self, nodes: Sequence[Node]) -> None:
        """Remember the nodes now; return once they are on disk. When they cannot be written
        (StorageError), they stay in memory for this run and go out with the next add."""
        for node in nodes:
            self._pending[(node.chat_id, node.message_id)] = node
        batch, self._retry = [*self._retry, *nodes], []
        # submit_all queues the batch before its first await, so that a close called meanwhile
        # writes it too; one wait covers the batch.
        try:
            await self._commits.submit_all(batch)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot save reply chains ({exc})") from exc
        for node in batch:
            key = (node.chat_id, node.message_id)
            if self._pending.get(key) is node:
                del self._pending[key]
                self._keep(node.chat_id, (node.link,))  # a reply to it, the likely next read

    def _keep_for_retry(self, failed: Sequence[Node]) -> None:
        self._retry[:0] = reversed(failed)  # ``failed`` comes newest first

    def _commit(self, batch: Sequence[Node]) -> None:
        first = self._next_seq
        rows = [
            (
                _stored(n.chat_id),
                _stored(n.message_id),
                _CODES[n.role],
                n.text,
                None if n.parent is None else _stored(n.parent),
                first + i,
                media.encode(n.attachments),
            )
            for i, n in enumerate(batch)
        ]
        # Keep about ``retention`` nodes: delete the oldest once a tenth more has piled up.
        keep_from = first + len(batch) - self.retention
        prune = keep_from - self._oldest > max(self.retention // 10, 1)
        writer = self._writer
        writer.execute("BEGIN IMMEDIATE")
        try:
            writer.executemany(_PUT, rows)
            if prune:
                writer.execute("DELETE FROM nodes WHERE seq < ?", (keep_from,))
            writer.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                writer.execute("ROLLBACK")
            raise
        self._next_seq = first + len(batch)
        if prune:
            self._oldest = keep_from

    async def close(self) -> None:
        await self._commits.drain()
        with self._reading:
            self._reader.close()
        self._writer.close()


def _add_attachments_column(writer: sqlite3.Connection) -> None:
    """Give a database made before attachments existed their column. Under the write lock, so
    two processes opening the same old file do not both add it."""
    writer.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in writer.execute("PRAGMA table_info(nodes)")}
        if "attachments" not in columns:
            writer.execute("ALTER TABLE nodes ADD COLUMN attachments TEXT")
            log.info("reply-chain database: added the attachments column")
        writer.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            writer.execute("ROLLBACK")
        raise


def _damaged(exc: sqlite3.Error) -> bool:
    """Whether an error opening the database means its file is not a usable database."""
    text = str(exc).lower()
    return any(sign in text for sign in ("not a database", "malformed", "corrupt"))
