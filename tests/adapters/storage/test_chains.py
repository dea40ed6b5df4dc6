"""``ThreadStore.chain``, the walk's read, kept alike by every store: the memory store (the
fallback on ``get``), SQLite here, PostgreSQL in postgres/test_threads.py (``check_chains``).

A store may read a chain from what it holds in memory, from its database or both: each case is
read from a store that has just been written (its memory) and, where the store has a file or a
server, from a second store opened on the same data (nothing in memory).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from adapters.storage.memory.stores import MemoryThreadStore
from adapters.storage.sqlite.threads import SqliteThreads
from core.ports import ThreadStore
from core.threads import chain_of
from core.values import Attachment, MediaKind, Node, Role

PHOTO = Attachment(MediaKind.IMAGE, "77", mime="image/png", name="a.png", width=8, height=6)

LINE = [
    Node("c", "1", Role.USER, "first", None, (PHOTO,)),
    Node("c", "2", Role.ASSISTANT, "answer", "1"),
    Node("c", "3", None, "The model failed", "2"),  # pass-through: part of the chain
    Node("c", "4", Role.USER, "again", "3"),
    Node("c", "5", Role.ASSISTANT, "second answer", "4"),
    Node("c", "6", Role.USER, "and then?", "5"),
]
ELSEWHERE = [  # the same ids in another chat; 5's parent is in chat "c" only
    Node("d", "6", Role.USER, "d six", "5"),
    Node("d", "5", Role.ASSISTANT, "d five", "4"),
]
CYCLE = [  # damaged data: parents that go round
    Node("e", "x1", Role.USER, "one", "x2"),
    Node("e", "x2", Role.ASSISTANT, "two", "x1"),
]


def until_repeat(chain: Sequence[Node]) -> list[Node]:
    """A chain up to its first repeated node: where a walk stops on damaged data."""
    seen: set[str] = set()
    kept = []
    for node in chain:
        if node.message_id in seen:
            break
        seen.add(node.message_id)
        kept.append(node)
    return kept


async def check_chains(written: ThreadStore, read: ThreadStore) -> None:
    """``written`` is empty; ``read`` sees the same data (it may be ``written`` itself)."""
    await written.add([*LINE, *ELSEWHERE, *CYCLE])
    for store in (written, read):
        assert list(await chain_of(store, "c", "6", 100)) == LINE[::-1]
        assert list(await chain_of(store, "c", "6", 3)) == LINE[:2:-1]
        assert list(await chain_of(store, "c", "4", 1)) == [LINE[3]]
        assert list(await chain_of(store, "c", "nope", 10)) == []
        assert list(await chain_of(store, "d", "6", 10)) == ELSEWHERE  # a chain keeps to its chat
        assert list(await chain_of(store, "x", "6", 10)) == []
        looped = list(await chain_of(store, "e", "x1", 7))
        assert until_repeat(looped) == CYCLE
        assert len(looped) <= 7
        assert all(a.parent == b.message_id for a, b in itertools.pairwise(looped))
    # A node added again replaces the old one, its parent too, however it was read before.
    edited = Node("c", "6", Role.USER, "edited", "2")
    await written.add([edited])
    assert list(await chain_of(written, "c", "6", 10)) == [edited, LINE[1], LINE[0]]
    assert (await written.get("c", "6")) == edited


@asynccontextmanager
async def sqlite_pair(folder: Path) -> AsyncIterator[tuple[ThreadStore, ThreadStore]]:
    written = SqliteThreads.open(folder / "threads.db")
    read = SqliteThreads.open(folder / "threads.db")  # a second connection: nothing cached
    try:
        yield written, read
    finally:
        await written.close()
        await read.close()


@asynccontextmanager
async def memory_pair(folder: Path) -> AsyncIterator[tuple[ThreadStore, ThreadStore]]:
    store = MemoryThreadStore()
    yield store, store


Pair = Callable[[Path], AbstractAsyncContextManager[tuple[ThreadStore, ThreadStore]]]


@pytest.mark.parametrize("pair", [memory_pair, sqlite_pair], ids=["memory", "sqlite"])
async def test_every_store_reads_chains_alike(tmp_path: Path, pair: Pair) -> None:
    async with pair(tmp_path) as (written, read):
        await check_chains(written, read)
