"""Cutting a long text into messages Telegram accepts, keeping its formatting valid.

Cuts fall on the last paragraph break, else line break, else space that fits, and never
inside a code block that could fit whole in a message of its own. An entity crossing a cut is
closed at the end of one part and reopened at the start of the next (a code block stays a
code block on both sides).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
from telethon.tl import types

from adapters.telegram.text import (
    LIMIT,
    Entity,
    from_surrogates,
    moved,
    safe_cut,
    to_surrogates,
)

_BREAKS = ("\n\n", "\n", " ")  # the preferred boundaries, best first


@attrs.frozen
class Part:
    """One message's worth: its text and its entities, offsets relative to this text."""

    text: str
    entities: tuple[Entity, ...] = ()

    def plain(self) -> Part:
        return Part(self.text)


def split(text: str, entities: Sequence[Entity] = (), limit: int = LIMIT) -> list[Part]:
    """``text`` (with ``entities``) as parts of at most ``limit`` UTF-16 units each.

    Every part is stripped of surrounding whitespace, as Telegram would strip it, with its
    entities moved along; a text of only whitespace gives no parts.
    """
    if limit < 1:
        raise ValueError(f"the limit must be positive, not {limit}")
    units = to_surrogates(text)
    # Only a code block that fits in one message can be kept whole; a longer one is cut anyway.
    blocks = [
        (e.offset, e.offset + e.length)
        for e in entities
        if isinstance(e, types.MessageEntityPre) and 0 < e.length <= limit
    ]
    parts: list[Part] = []
    start = 0
    while start < len(units):
        end = len(units) if len(units) - start <= limit else _cut(units, start, limit, blocks)
        part = _part(units, entities, start, end)
        if part.text:
            parts.append(part)
        start = end
    return parts


def _cut(units: str, start: int, limit: int, blocks: list[tuple[int, int]]) -> int:
    """Where the part beginning at ``start`` should end."""
    stop = start + limit

    def inside(cut: int) -> bool:
        return any(a < cut < b for a, b in blocks)

    # A cut far back would leave a stub of a message: take the best boundary in the second
    # half first, then any boundary outside code, then any boundary at all.
    for floor, avoid in ((start + limit // 2, True), (start + 1, True), (start + 1, False)):
        for separator in _BREAKS:
            cut = _last(units, separator, floor, stop, inside if avoid else None)
            if cut > 0:
                return cut
    cut = safe_cut(units, stop)
    return cut if cut > start else stop


def _last(
    units: str, separator: str, floor: int, stop: int, inside: Callable[[int], bool] | None
) -> int:
    """The last position in [floor, stop] where ``separator`` starts and a cut is allowed."""
    cut = units.rfind(separator, floor, stop + len(separator))
    while cut >= floor:
        if inside is None or not inside(cut):
            return cut
        cut = units.rfind(separator, floor, cut + len(separator) - 1)
    return -1


def _part(units: str, entities: Sequence[Entity], start: int, end: int) -> Part:
    raw = units[start:end]
    stripped = raw.lstrip()
    first = start + len(raw) - len(stripped)
    stripped = stripped.rstrip()
    last = first + len(stripped)
    kept = []
    for entity in entities:
        a = max(entity.offset, first)
        b = min(entity.offset + entity.length, last)
        if a < b:
            kept.append(moved(entity, a - first, b - a))
    return Part(from_surrogates(stripped), tuple(kept))
