"""Reply-chain nodes in a JSON-lines file next to data.json.

Nodes are not part of the seed's data.json format, so they live apart: one JSON object per line,
appended as the bot works. Appending never rewrites what is already there, and a line torn by a
crash is skipped on the next start. Only the newest ``retention`` nodes are kept; when the file
holds twice that many lines it is rewritten (atomically) with the kept ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from adapters.storage.files import FILE_MODE, write_atomically
from core.errors import StorageError
from core.values import Node, Role

log = logging.getLogger(__name__)

_ROLES = {"u": Role.USER, "a": Role.ASSISTANT}
_CODES = {role: code for code, role in _ROLES.items()}


def _line(node: Node) -> str:
    record = {
        "c": node.chat_id,
        "m": node.message_id,
        "r": _CODES[node.role],
        "t": node.text,
        "p": node.parent,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def _node(line: str) -> Node:
    record = json.loads(line)
    parent = record["p"]
    if not isinstance(record["c"], int) or not isinstance(record["m"], int):
        raise ValueError("ids must be whole numbers")
    if parent is not None and not isinstance(parent, int):
        raise ValueError("parent must be a whole number")
    if not isinstance(record["t"], str):
        raise ValueError("text must be a string")
    return Node(record["c"], record["m"], _ROLES[record["r"]], record["t"], parent)


@attrs.define
class JsonThreadStore:
    """The thread store on one JSON-lines file (implements ``core.ports.ThreadStore``)."""

    path: Path
    retention: int
    _nodes: dict[tuple[int, int], Node] = attrs.field(factory=dict)
    _lines: int = 0
    _torn: bool = False  # the file ends inside a line: start the next append on a new one
    _pending: list[str] = attrs.field(factory=list)  # lines remembered, not yet written
    _pending_lines: int = 0
    _version: int = 0
    _written: int = 0
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)

    @classmethod
    def open(cls, path: Path, retention: int = 100_000) -> JsonThreadStore:
        store = cls(path, retention)
        try:
            with path.open(encoding="utf-8", errors="replace") as file:
                skipped = 0
                for line in file:
                    store._lines += 1
                    store._torn = not line.endswith("\n")
                    try:
                        node = _node(line)
                    except (ValueError, KeyError, TypeError):
                        skipped += 1  # a torn last line after a crash, or a damaged one
                        continue
                    store._remember(node)
        except FileNotFoundError:
            return store
        except OSError as exc:
            raise StorageError(f"{path}: cannot read the reply-chain file ({exc})") from exc
        if skipped:
            log.warning("%s: skipped %d damaged line(s)", path, skipped)
        return store

    def get(self, chat_id: int, message_id: int) -> Node | None:
        return self._nodes.get((chat_id, message_id))

    def __len__(self) -> int:
        return len(self._nodes)

    def ids(self) -> Iterator[tuple[int, int]]:
        """(chat id, message id) of every node kept."""
        return iter(self._nodes)

    def _remember(self, node: Node) -> None:
        key = (node.chat_id, node.message_id)
        self._nodes.pop(key, None)  # a re-added node becomes the newest
        self._nodes[key] = node
        while len(self._nodes) > self.retention:
            del self._nodes[next(iter(self._nodes))]

    async def add(self, nodes: Sequence[Node]) -> None:
        """Remember the nodes now; return once they are on disk.

        Adds that arrive while a write is running go out together with the next one.
        """
        for node in nodes:
            self._remember(node)
        self._pending.append("".join(_line(node) for node in nodes))
        self._pending_lines += len(nodes)
        self._version += 1
        version = self._version
        async with self._lock:
            if self._written >= version:
                return
            records, lines, target = self._pending, self._pending_lines, self._version
            self._pending, self._pending_lines = [], 0
            try:
                if self._lines + lines > 2 * self.retention:
                    kept = list(self._nodes.values())
                    await asyncio.to_thread(self._rewrite, kept)
                    self._lines = len(kept)
                else:
                    data = ("\n" if self._torn else "") + "".join(records)
                    await asyncio.to_thread(self._append, data.encode("utf-8"))
                    self._lines += lines
            except OSError as exc:
                self._pending = records + self._pending  # retried with the next add
                self._pending_lines += lines
                raise StorageError(f"{self.path}: cannot save reply chains ({exc})") from exc
            self._torn = False
            self._written = target

    def _rewrite(self, nodes: list[Node]) -> None:
        write_atomically(self.path, "".join(_line(node) for node in nodes).encode("utf-8"))

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    async def close(self) -> None:
        async with self._lock:
            pass  # every add is written before it returns; wait for one in progress
