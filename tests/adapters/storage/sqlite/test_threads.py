"""The reply-chain database: survives restarts, reads chains ahead, keeps to its retention,
and a damaged file costs the context, never the start."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import stat
import sys
import threading
from pathlib import Path

import attrs
import pytest

from adapters.storage.memory.stores import MemoryThreadStore
from adapters.storage.sqlite.threads import SqliteThreads
from core.errors import StorageError
from core.threads import chain_of
from core.values import Attachment, Link, MediaKind, Node, Role

ROOT = Path(__file__).resolve().parents[4]


def chain(chat: int, first: int, last: int) -> list[Node]:
    return [
        Node(
            str(chat),
            str(n),
            Role.USER if n % 2 else Role.ASSISTANT,
            f"{chat}:{n}",
            str(n - 1) if n > 1 else None,
        )
        for n in range(first, last + 1)
    ]


def traced(path: Path) -> tuple[SqliteThreads, list[str]]:
    """The database opened with nothing in memory, and the list its reads' queries go to."""
    store = SqliteThreads.open(path)
    queries: list[str] = []
    store._reader.set_trace_callback(queries.append)
    return store, queries


async def written(path: Path, nodes: list[Node]) -> None:
    """A database holding ``nodes``, closed: the next open starts with nothing cached."""
    store = SqliteThreads.open(path)
    await store.add(nodes)
    await store.close()


async def test_nodes_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(
        [Node("-5", "1", Role.USER, "привет 🙂", None), Node("-5", "2", Role.ASSISTANT, "hi", "1")]
    )
    await store.close()
    again = SqliteThreads.open(path)
    assert await again.get("-5", "1") == Node("-5", "1", Role.USER, "привет 🙂", None)
    assert await again.get("-5", "2") == Node("-5", "2", Role.ASSISTANT, "hi", "1")
    assert await again.get("5", "1") is None
    assert again.last_message_id() == 2
    await again.close()


async def test_an_add_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    """No close: another connection (another process after a crash) sees the nodes, and the
    writer syncs each commit (WAL at NORMAL would leave a power cut free to take it back)."""
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(chain(7, 1, 3))
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM nodes").fetchone() == (3,)
    other.close()
    assert store.durability() == ("wal", 2)  # FULL
    await store.close()


async def test_close_writes_the_adds_still_queued(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    # Started before close, not yet written when it begins: close must wait for them.
    await asyncio.gather(*(store.add([node]) for node in chain(7, 1, 5)), store.close())
    again = SqliteThreads.open(path)
    assert len(again) == 5
    await again.close()


async def test_the_files_are_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(chain(7, 1, 1))
    for file in tmp_path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    await store.close()


async def test_adds_in_flight_are_read_at_once_and_written_together(tmp_path: Path) -> None:
    store = SqliteThreads.open(tmp_path / "threads.db")
    statements: list[str] = []
    store._writer.set_trace_callback(statements.append)
    adds = [asyncio.create_task(store.add([node])) for node in chain(3, 1, 40)]
    await asyncio.sleep(0)
    assert await store.get("3", "40") == chain(3, 40, 40)[0]  # before anything is written
    await asyncio.gather(*adds)
    assert 1 <= statements.count("COMMIT") < 40
    assert len(store) == 40
    await store.close()


async def test_a_chain_is_one_query_and_the_next_walk_is_served_from_memory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "threads.db"
    await written(path, chain(1, 1, 300))
    store, queries = traced(path)
    assert await chain_of(store, "1", "300", 1_000) == chain(1, 1, 300)[::-1]
    assert len(queries) == 1
    # The conversation goes on: the answer and the reply to it are added, and the next walk
    # finds the whole chain in memory.
    await store.add(chain(1, 301, 302))
    assert await chain_of(store, "1", "302", 1_000) == chain(1, 1, 302)[::-1]
    assert len(queries) == 1
    await store.close()


async def test_a_chain_read_stops_at_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    await written(path, chain(1, 1, 300))
    store = SqliteThreads.open(path)
    assert await chain_of(store, "1", "300", 128) == chain(1, 173, 300)[::-1]
    assert await chain_of(store, "1", "172", 1) == chain(1, 172, 172)
    # Part from memory, the rest from the database, the limit counting both.
    assert await chain_of(store, "1", "300", 130) == chain(1, 171, 300)[::-1]
    await store.close()


async def test_retention_deletes_the_oldest(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path, retention=10)
    for node in chain(1, 1, 35):
        await store.add([node])
    await store.close()
    store = SqliteThreads.open(path, retention=10)
    kept = {m for m in range(1, 36) if await store.get("1", str(m)) is not None}
    assert set(range(26, 36)) <= kept
    assert len(kept) <= 10 + 10 // 10 + 1
    await store.close()


async def test_a_node_added_again_replaces_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add([Node("1", "1", Role.USER, "old", None)])
    assert await store.get("1", "1") is not None
    await store.add([Node("1", "1", Role.USER, "new", None)])
    assert await store.get("1", "1") == Node("1", "1", Role.USER, "new", None)
    await store.close()
    again = SqliteThreads.open(path)
    assert await again.get("1", "1") == Node("1", "1", Role.USER, "new", None)
    assert len(again) == 1
    await again.close()


async def test_damaged_rows_end_a_chain_without_breaking_it(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    await written(path, chain(1, 1, 6))
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE nodes SET role = '?' WHERE message = 3")
        raw.execute("UPDATE nodes SET parent = 6 WHERE message = 4")  # a cycle: 4 → 6 → 5 → 4
        raw.execute("UPDATE nodes SET text = x'00' WHERE message = 1")  # not text: damaged
    raw.close()
    store = SqliteThreads.open(path)
    looped = await chain_of(store, "1", "6", 7)
    assert [node.message_id for node in looped] == ["6", "5", "4", "6", "5", "4", "6"]
    assert await chain_of(store, "1", "3", 7) == []
    assert await chain_of(store, "1", "2", 7) == chain(1, 2, 2)
    assert [await store.get("1", m) is None for m in "65432"] == [False] * 3 + [True, False]
    assert await store.get("1", "4") == Node("1", "4", Role.ASSISTANT, "1:4", "6")
    await store.close()


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 100, b"SQLite format 3\x00" + bytes(90)]
)
async def test_a_damaged_file_is_set_aside_and_a_new_one_started(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "threads.db"
    path.write_bytes(content)
    store = SqliteThreads.open(path)
    assert await store.get("1", "1") is None
    await store.add(chain(1, 1, 2))
    assert await store.get("1", "2") is not None
    await store.close()
    (aside,) = tmp_path.glob("threads.db.corrupt-*")
    assert aside.read_bytes() == content


def test_a_database_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"threads\.db"):
        SqliteThreads.open(tmp_path / "missing" / "threads.db")


async def test_a_failed_write_is_a_storage_error_and_retried_with_the_next_add(
    tmp_path: Path,
) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the file: writes cannot happen
    with pytest.raises(StorageError, match="cannot save reply chains"):
        await store.add(chain(2, 1, 1))
    assert await store.get("2", "1") is not None  # still there for this run
    other.execute("ROLLBACK")
    other.close()
    await store.add(chain(2, 2, 2))
    await store.close()
    again = SqliteThreads.open(path)
    assert await again.get("2", "1") is not None
    assert await again.get("2", "2") is not None
    await again.close()


# -- attachments ------------------------------------------------------------------------------

PHOTO = Attachment(
    MediaKind.IMAGE, "1001", mime="image/png", name="кот 🐈.png", size=0, width=640, height=480
)
VOICE = Attachment(MediaKind.VOICE, "1002", mime="audio/ogg", size=9_000, duration=2.75)


def pictured(chat: int, first: int, last: int) -> list[Node]:
    """A chain whose user turns carry pictures (two on the first)."""
    return [
        attrs.evolve(node, attachments=(PHOTO, VOICE) if n == first else (PHOTO,))
        if node.role is Role.USER
        else node
        for n, node in zip(range(first, last + 1), chain(chat, first, last), strict=True)
    ]


async def test_attachments_survive_a_restart_and_come_with_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    nodes = pictured(4, 1, 9)
    await written(path, nodes)
    store, queries = traced(path)
    assert await chain_of(store, "4", "9", 100) == nodes[::-1]  # the walk up the chain: one query
    for expected in reversed(nodes):
        assert await store.get("4", expected.message_id) == expected
    assert len(queries) == 1
    await store.close()
    raw = sqlite3.connect(path)
    kinds = raw.execute("SELECT message % 2, typeof(attachments) FROM nodes").fetchall()
    raw.close()
    assert set(kinds) == {(1, "text"), (0, "null")}  # a node without attachments stores NULL


async def test_attachments_are_served_before_and_after_their_commit(tmp_path: Path) -> None:
    store = SqliteThreads.open(tmp_path / "threads.db")
    nodes = pictured(5, 1, 30)
    adds = [asyncio.create_task(store.add([node])) for node in nodes]  # grouped commits
    await asyncio.sleep(0)
    assert await store.get("5", "1") == nodes[0]  # pending
    await asyncio.gather(*adds)
    assert await store.get("5", "29") == nodes[28]  # cached
    await store.close()
    again = SqliteThreads.open(tmp_path / "threads.db")
    assert [await again.get("5", str(n)) for n in range(1, 31)] == nodes
    await again.close()


# The schema of the previous version, as it created its file, and how it wrote a node.
_OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    chat INTEGER NOT NULL,
    message INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    parent INTEGER,
    seq INTEGER NOT NULL,
    PRIMARY KEY (chat, message)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_by_age ON nodes (seq);
"""
_OLD_PUT = (
    "INSERT OR REPLACE INTO nodes (chat, message, role, text, parent, seq) VALUES (?,?,?,?,?,?)"
)


def old_database(path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.executescript(_OLD_SCHEMA)
    raw.executemany(_OLD_PUT, [(7, 1, "u", "hello", None, 1), (7, 2, "a", "hi", 1, 2)])
    raw.close()


def columns(path: Path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [row[1] for row in raw.execute("PRAGMA table_info(nodes)")]
    finally:
        raw.close()


async def test_a_database_of_the_previous_version_gets_the_attachments_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "threads.db"
    old_database(path)
    assert "attachments" not in columns(path)
    store = SqliteThreads.open(path)
    assert columns(path)[-1] == "attachments"
    assert await store.get("7", "2") == Node("7", "2", Role.ASSISTANT, "hi", "1")
    new = Node("7", "3", Role.USER, "look", "2", (PHOTO,))
    await store.add([new])
    await store.close()
    again = SqliteThreads.open(path)  # opened again: nothing more to add
    assert await again.get("7", "3") == new
    assert await again.get("7", "1") == Node("7", "1", Role.USER, "hello", None)
    await again.close()
    # The previous version, started again on the file, still writes its nodes (it names its
    # columns): a node it replaces loses its pictures, nothing else.
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(_OLD_PUT, (7, 4, "a", "nice", 3, 4))
    raw.close()
    third = SqliteThreads.open(path)
    assert await third.get("7", "4") == Node("7", "4", Role.ASSISTANT, "nice", "3")
    assert await third.get("7", "3") == new
    await third.close()


async def test_two_processes_opening_an_old_database_add_the_column_once(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    old_database(path)
    code = (
        "import sys; from pathlib import Path\n"
        "from adapters.storage.sqlite.threads import SqliteThreads\n"
        "SqliteThreads.open(Path(sys.argv[1]))\n"
    )
    runs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(path), cwd=ROOT)
        for _ in range(4)
    ]
    assert [await run.wait() for run in runs] == [0] * 4
    assert columns(path).count("attachments") == 1


async def test_damaged_attachments_cost_the_pictures_not_the_node(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "threads.db"
    nodes = pictured(8, 1, 3)
    await written(path, nodes)
    raw = sqlite3.connect(path)
    with raw:
        raw.execute('UPDATE nodes SET attachments = \'[{"kind": "image"\' WHERE message = 1')
        raw.execute("UPDATE nodes SET attachments = x'00ff' WHERE message = 3")
    raw.close()
    store = SqliteThreads.open(path)
    with caplog.at_level(logging.WARNING):
        assert await store.get("8", "3") == attrs.evolve(nodes[2], attachments=())
        assert await store.get("8", "2") == nodes[1]
        assert await store.get("8", "1") == attrs.evolve(nodes[0], attachments=())
    assert "are not JSON" in caplog.text
    assert "are not text (b'\\x00\\xff')" in caplog.text
    await store.close()


def _forest(seed: int) -> list[Node]:
    """Reply chains as a busy group makes them: conversations interleaved, branches, ids of
    every kind a messenger gives (numbers, text, numbers written otherwise), parents missing."""
    rng = random.Random(seed)
    nodes: list[Node] = []
    used: set[str] = set()
    for n in range(400):
        kind = rng.random()
        if kind < 0.8:
            message = str(n * rng.choice((1, 1, 1, 3)) + rng.randrange(3))
        elif kind < 0.9:
            message = f"${n}:example.org"
        else:
            message = f"0{n}"  # stored as its bytes: outside the range a scan reads
        if message in used:
            continue
        used.add(message)
        if not nodes or rng.random() < 0.05:
            parent = None if rng.random() < 0.5 else "999999"  # a root, or a lost parent
        else:  # mostly the newest few (a conversation), sometimes far back (a branch)
            back = rng.choice((1, 1, 2, 3, 5, rng.randrange(1, len(nodes) + 1)))
            parent = nodes[-min(back, len(nodes))].message_id
        role = rng.choice((Role.USER, Role.ASSISTANT, None))
        nodes.append(Node("-100", message, role, f"text {n}", parent))
    nodes.append(Node("-200", "5", Role.USER, "another chat", None))
    return nodes


@pytest.mark.parametrize("seed", range(6))
async def test_chains_read_by_range_and_query_are_the_chains_of_the_nodes(
    tmp_path: Path, seed: int
) -> None:
    """Whatever the ids and however the conversations interleave, the range scan and the
    recursive query together give each node's chain, as the plain walk over the nodes does."""
    nodes = _forest(seed)
    path = tmp_path / "threads.db"
    await written(path, nodes)
    expected = MemoryThreadStore()
    await expected.add(nodes)
    for limit in (1, 3, 40, 10_000):
        store = SqliteThreads.open(path)  # nothing in memory: every chain from the database
        for node in nodes[::7]:
            want = await chain_of(expected, node.chat_id, node.message_id, limit)
            assert await chain_of(store, node.chat_id, node.message_id, limit) == want
        await store.close()


async def test_a_conversation_among_others_in_a_group_is_still_one_query(
    tmp_path: Path,
) -> None:
    """Two conversations taking turns in one chat: the scan passes the other's nodes."""
    first = [
        Node("-5", str(n), Role.USER, f"a{n}", str(n - 2) if n > 2 else None)
        for n in range(1, 601, 2)
    ]
    second = [
        Node("-5", str(n), Role.USER, f"b{n}", str(n - 2) if n > 2 else None)
        for n in range(2, 601, 2)
    ]
    path = tmp_path / "threads.db"
    await written(path, [*first, *second])
    store, queries = traced(path)
    assert await chain_of(store, "-5", "599", 1_000) == first[::-1]
    assert len(queries) == 1
    await store.close()


async def test_a_chain_spread_thin_among_other_nodes_is_read_whole(tmp_path: Path) -> None:
    """When the scan meets more strays than it takes, the recursive query reads the rest."""
    chain_nodes = [
        Node("-5", str(n), Role.USER, f"a{n}", str(n - 100) if n > 100 else None)
        for n in range(100, 10_001, 100)
    ]
    others = [
        Node("-5", str(n), Role.ASSISTANT, "other", None) for n in range(1, 10_001) if n % 100
    ]
    path = tmp_path / "threads.db"
    await written(path, [*chain_nodes, *others])
    store, queries = traced(path)
    assert await chain_of(store, "-5", "10000", 1_000) == chain_nodes[::-1]
    assert len(queries) == 2  # the scan gave up; the recursive query went on
    await store.close()


async def test_an_unbroken_chain_read_a_batch_at_a_time_is_the_chain_row_by_row(
    tmp_path: Path,
) -> None:
    """A long conversation alone in its chat is read in batches (``_contiguous``): the same
    links as the plain walk, whatever the limit against the batches, with pictures, turns the
    walk passes through, a damaged row and a break in the middle of a batch."""
    nodes = [
        Node(
            "3",
            str(n),
            [Role.USER, Role.ASSISTANT, None][n % 3],
            f"turn {n}",
            str(n - 1) if n > 1 else None,
            (PHOTO,) if n % 50 == 0 else (),
        )
        for n in range(1, 301)
    ]
    nodes[199] = attrs.evolve(nodes[199], parent="150")  # 200 replies to 150: a gap of 49
    path = tmp_path / "threads.db"
    await written(path, nodes)
    expected = MemoryThreadStore()
    await expected.add(nodes)
    for limit in (1, 63, 64, 65, 99, 100, 101, 128, 1_000):
        for start in ("300", "250", "201", "200", "120", "64", "1"):
            store = SqliteThreads.open(path)  # nothing cached: each chain from the database
            want = await chain_of(expected, "3", start, limit)
            assert await chain_of(store, "3", start, limit) == want, (limit, start)
            await store.close()
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE nodes SET role = '?' WHERE message = 90")
    raw.close()
    store = SqliteThreads.open(path)
    assert [n.message_id for n in await chain_of(store, "3", "140", 1_000)] == [
        str(n) for n in range(140, 90, -1)
    ]
    await store.close()


async def test_the_batches_fetch_no_more_rows_past_a_break_than_row_by_row(
    tmp_path: Path,
) -> None:
    """A group whose newest 64 messages are one conversation, below them four interleaved: the
    batches take the 64, then the walk goes row by row, and gives up on the range after as many
    strays as the row by row walk does (64 more than the nodes taken)."""
    top = 5_000
    nodes = [Node("3", str(m), Role.USER, "t", str(m - 1)) for m in range(top - 63, top + 1)]
    nodes += [
        Node("3", str(m), Role.ASSISTANT, "t", str(m - 4) if m > 4 else None)
        for m in range(1, top - 63)
    ]
    path = tmp_path / "threads.db"
    await written(path, nodes)
    store = SqliteThreads.open(path)
    fetched = 0
    real = store._reader

    class Counted:  # the reader, counting the rows its cursors hand out
        def execute(self, query: str, parameters: tuple[object, ...]) -> Counted:
            self.cursor = real.execute(query, parameters)
            return self

        def fetchmany(self, size: int) -> list[object]:
            nonlocal fetched
            rows = self.cursor.fetchmany(size)
            fetched += len(rows)
            return rows

        def __iter__(self) -> Counted:
            return self

        def __next__(self) -> object:
            nonlocal fetched
            row = next(self.cursor)
            fetched += 1
            return row

    store._reader = Counted()  # type: ignore[assignment]
    links, rest = store._scan("3", str(top), 1_000)
    store._reader = real
    assert [link[0] for link in links[:65]] == [str(m) for m in range(top, top - 65, -1)]
    assert rest is not None  # the recursive query goes on from there
    assert fetched <= 2 * len(links) + 64 + 1
    await store.close()


# Ids at the edges of "a number as str(int) writes it, within SQLite's 64-bit integers", the
# ones stored as numbers without a second look, and their neighbours that are not.
EDGE_IDS = [
    "0",
    "-0",
    "05",
    "-05",
    "7",
    "-7",
    "9" * 18,
    "-" + "9" * 18,
    "9" * 19,
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "1.0",
    "1e3",
    "+5",
    " 5",
    "١٢",
    "²",
    "-",
    "x",
]


async def test_ids_at_the_edges_of_numbers_come_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(
        [Node(chat, message, Role.USER, chat) for chat in EDGE_IDS for message in EDGE_IDS]
    )
    await store.close()
    store = SqliteThreads.open(path)  # nothing in memory: every node read from the file
    try:
        for chat in EDGE_IDS:
            for message in EDGE_IDS:
                found = await store.get(chat, message)
                assert found is not None
                assert (found.chat_id, found.message_id) == (chat, message)
        assert len(store) == len(EDGE_IDS) ** 2  # no two ids stored as one
    finally:
        await store.close()


async def test_a_read_that_ran_while_a_node_was_replaced_does_not_bring_the_old_one_back(
    tmp_path: Path,
) -> None:
    store = SqliteThreads.open(tmp_path / "threads.db")
    await store.add(chain(1, 1, 6))
    store._cache.clear()
    store._cached = 0
    read_done, go_on = threading.Event(), threading.Event()
    reading = store._read

    def slow_read(chat_id: str, message_id: str, limit: int) -> list[Link]:
        found = reading(chat_id, message_id, limit)  # the old node 6, as it was
        read_done.set()
        assert go_on.wait(10)
        return found

    store._read = slow_read  # type: ignore[method-assign]
    try:
        walk = asyncio.create_task(store.links("1", "6", 10))
        await asyncio.to_thread(read_done.wait, 10)
        await store.add([Node("1", "6", Role.USER, "edited", "2")])  # replaced meanwhile
        go_on.set()
        await walk
        replaced = await store.get("1", "6")
        assert replaced is not None
        assert (replaced.text, replaced.parent) == ("edited", "2")
        assert [link[0] for link in await store.links("1", "6", 10)] == ["6", "2", "1"]
    finally:
        go_on.set()
        await store.close()
