"""The reply-chain file: survives restarts and torn lines, and stays within its retention."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.json_threads import JsonThreadStore
from core.values import Node, Role


async def test_nodes_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    store = JsonThreadStore.open(path)
    await store.add(
        [Node(-5, 1, Role.USER, "привет 🙂", None), Node(-5, 2, Role.ASSISTANT, "hi", 1)]
    )
    again = JsonThreadStore.open(path)
    assert again.get(-5, 1) == Node(-5, 1, Role.USER, "привет 🙂", None)
    assert again.get(-5, 2) == Node(-5, 2, Role.ASSISTANT, "hi", 1)
    assert again.get(5, 1) is None


async def test_a_torn_last_line_is_skipped_and_later_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    store = JsonThreadStore.open(path)
    await store.add([Node(1, 1, Role.USER, "kept", None)])
    with path.open("a") as file:
        file.write('{"c": 1, "m": 2, "r": "a", "t": "to')  # a crash in the middle of a write
    store = JsonThreadStore.open(path)
    assert store.get(1, 2) is None
    await store.add([Node(1, 3, Role.USER, "after the crash", None)])
    again = JsonThreadStore.open(path)
    assert again.get(1, 1) is not None
    assert again.get(1, 3) is not None


async def test_damaged_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    path.write_text(
        '{"c": 1, "m": 1, "r": "u", "t": "ok", "p": null}\n'
        '{"c": "x", "m": 2, "r": "u", "t": "bad id", "p": null}\n'
        '{"c": 1, "m": 3, "r": "?", "t": "bad role", "p": null}\n'
        "[]\n"
    )
    store = JsonThreadStore.open(path)
    assert len(store) == 1


async def test_retention_drops_the_oldest_and_compacts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "threads.jsonl"
    store = JsonThreadStore.open(path, retention=10)
    for n in range(1, 36):
        await store.add([Node(1, n, Role.USER, f"m{n}", n - 1)])
    assert len(store) == 10
    assert store.get(1, 25) is None
    assert store.get(1, 26) is not None
    assert len(path.read_text().splitlines()) <= 20
    again = JsonThreadStore.open(path, retention=10)
    assert {m for _, m in again.ids()} == set(range(26, 36))
