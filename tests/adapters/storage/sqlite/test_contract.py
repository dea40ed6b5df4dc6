"""The reply-chain store: text ids in and out, pass-through nodes, reads that
happen off the event loop."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from adapters.storage.memory.stores import MemoryThreadStore
from adapters.storage.sqlite.threads import SqliteThreads
from core.values import Attachment, MediaKind, Node, Role

CHAIN = [
    Node("-100", "1", Role.USER, "hello", None),
    Node("-100", "2", None, "Something went wrong, please try again", "1"),  # pass-through
    Node("-100", "3", Role.USER, "again", "2"),
    Node("room-7", "msg-a", Role.USER, "ids that are not numbers", None),
]


async def test_text_ids_and_pass_through_nodes_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(CHAIN)
    await store.close()
    again = SqliteThreads.open(path)
    for expected in CHAIN:
        assert await again.get(expected.chat_id, expected.message_id) == expected
    assert await again.get("-100", "9") is None
    await again.close()
    raw = sqlite3.connect(path)
    kinds = dict(raw.execute("SELECT message, typeof(message) FROM nodes").fetchall())
    raw.close()
    assert kinds == {1: "integer", 2: "integer", 3: "integer", "msg-a": "text"}


async def test_ids_that_only_look_like_numbers_come_back_as_written(tmp_path: Path) -> None:
    """The INTEGER columns turn text such as "05" or "1.0" into a number, which read back as
    "5" and "1.0" no longer matched: such ids are stored so that they stay as they were."""
    path = tmp_path / "threads.db"
    odd = ["05", "1.0", "1e3", "-0", "99999999999999999999", "007"]
    chain = [
        Node(chat, message, Role.USER, f"{chat}/{message}", parent)
        for chat in ("042", "-100")
        for message, parent in zip(odd, [None, *odd], strict=False)
    ]
    store = SqliteThreads.open(path)
    await store.add(chain)
    await store.close()
    again = SqliteThreads.open(path)
    assert await again.get("042", "007") == chain[5]  # its ancestors are read ahead with it
    for expected in chain:
        assert await again.get(expected.chat_id, expected.message_id) == expected
    assert await again.get("42", "5") is None
    assert await again.get("-100", "5") is None
    assert await again.get("-100", "1") is None
    await again.close()


async def test_reads_happen_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    store = SqliteThreads.open(path)
    await store.add(CHAIN)
    await store.close()
    again = SqliteThreads.open(path)
    readers: list[int] = []
    again._reader.set_trace_callback(lambda _: readers.append(threading.get_ident()))
    assert await again.get("-100", "3") == CHAIN[2]
    assert readers
    assert threading.get_ident() not in readers
    await again.close()


async def test_the_memory_store_keeps_text_ids_too() -> None:
    store = MemoryThreadStore()
    await store.add(CHAIN)
    assert await store.get("-100", "2") == CHAIN[1]
    assert await store.get("room-7", "msg-a") == CHAIN[3]


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
async def test_both_stores_keep_a_nodes_attachments_exactly(kind: str, tmp_path: Path) -> None:
    photo = Attachment(MediaKind.IMAGE, "msg-9", mime="image/webp", name="ü.webp", size=0)
    nodes = [
        Node("room-7", "msg-9", Role.USER, "what is this?", None, (photo,)),
        Node("room-7", "msg-10", Role.ASSISTANT, "a cat", "msg-9"),
        # Replaced by a later add: its pictures go with it.
        Node("room-7", "msg-11", Role.USER, "and this?", "msg-10", (photo, photo)),
        Node("room-7", "msg-11", Role.USER, "never mind", "msg-10"),
    ]
    store = SqliteThreads.open(tmp_path / "threads.db") if kind == "sqlite" else MemoryThreadStore()
    await store.add(nodes)
    await store.close()
    if kind == "sqlite":
        store = SqliteThreads.open(tmp_path / "threads.db")
    for expected in nodes[:2] + nodes[3:]:
        assert await store.get(expected.chat_id, expected.message_id) == expected
    await store.close()
