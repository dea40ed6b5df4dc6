"""The reply-chain database: survives restarts, reads chains ahead, keeps to its retention,
and a damaged file costs the context, never the start."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from adapters.storage import sqlite_threads
from adapters.storage.sqlite_threads import SqliteThreads
from core.errors import StorageError
from core.values import Node, Role


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
    """No close: another connection (another process after a crash) sees the nodes."""
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(chain(7, 1, 3))
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM nodes").fetchone() == (3,)
    other.close()
    await store.close()


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


async def test_a_walk_reads_ahead_instead_of_one_query_per_node(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    await written(path, chain(1, 1, 300))
    store = SqliteThreads.open(path)
    queries: list[str] = []
    store._reader.set_trace_callback(queries.append)
    message: str | None = "300"
    walked = []
    while message is not None:
        node = await store.get("1", message)
        assert node is not None
        walked.append(node)
        message = node.parent
    assert walked == chain(1, 1, 300)[::-1]
    # 128 nodes read ahead, then, as the walk goes on past them, twice as many.
    assert len(queries) == 2
    assert sqlite_threads.READ_AHEAD + 2 * sqlite_threads.READ_AHEAD >= 300
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
    raw.close()
    store = SqliteThreads.open(path)
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
