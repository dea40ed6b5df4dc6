"""Cutting a long text into messages Telegram accepts, keeping its formatting valid.

Cuts fall on the last paragraph break, else line break, else space that fits in the second
half of the message (an earlier one would leave a stub of a message), never inside a code block
that could fit whole in a message of its own, and otherwise between two whole characters. A part
holds at most 100 formatting entities, the most Telegram applies. An entity crossing a cut is
closed at the end of one part and reopened at the start of the next (a code block stays a code
block on both sides).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
from telethon.tl import types

from adapters.messengers.telegram.markdown import to_entities
from adapters.messengers.telegram.text import (
    LIMIT,
    MAX_ENTITIES,
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
    # A rich message (Telegram renders this Markdown) and what shows instead when Telegram
    # refuses it (``formats``); a part without ``rich`` is text with entities.
    rich: str = ""
    fallback: tuple[Part, ...] = ()

    def plain(self) -> Part:
        """The same words without formatting, for when Telegram refuses the entities: a link
        keeps its address visible, "the docs (https://...)"."""
        units = to_surrogates(self.text)
        inserts = sorted(
            (e.offset + e.length, f" ({e.url})")
            for e in self.entities
            if isinstance(e, types.MessageEntityTextUrl)
            and e.url != from_surrogates(units[e.offset : e.offset + e.length])
        )
        pieces, last = [], 0
        for at, addition in inserts:
            pieces += [units[last:at], addition]
            last = at
        pieces.append(units[last:])
        return Part(from_surrogates("".join(pieces)))


def parts_of(text: str, *, markdown: bool, limit: int = LIMIT) -> list[Part]:
    """``text`` (Markdown, or plain) as the messages that show it; never none, so an answer
    always shows."""
    parts = split(*to_entities(text), limit=limit) if markdown else split(text, limit=limit)
    # Whitespace, or Markdown with nothing visible (an empty code fence): an ellipsis says
    # "nothing" better than an empty screen or a raw "```" left from the preview.
    return parts or [Part("…")]


def split(
    text: str,
    entities: Sequence[Entity] = (),
    limit: int = LIMIT,
    max_entities: int = MAX_ENTITIES,
) -> list[Part]:
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
        room = min(limit, _entity_room(entities, start, max_entities))
        end = len(units) if len(units) - start <= room else _cut(units, start, room, blocks)
        part = _part(units, entities, start, end)
        if part.text:
            parts.append(part)
        start = end
    return parts


def _entity_room(entities: Sequence[Entity], start: int, most: int) -> int:
    """How many units from ``start`` a part may take and hold at most ``most`` entities."""
    carried = sum(1 for e in entities if e.offset < start < e.offset + e.length)
    starts = sorted(int(e.offset) for e in entities if e.offset >= start and e.length > 0)
    allowed = max(most - carried, 1)
    if len(starts) <= allowed:
        return 1 << 62
    return max(starts[allowed] - start, 1)


def _cut(units: str, start: int, limit: int, blocks: list[tuple[int, int]]) -> int:
    """Where the part beginning at ``start`` should end."""
    stop = start + limit

    def inside(cut: int) -> bool:
        return any(a < cut < b for a, b in blocks)

    # A cut in the first half would leave a stub of a message; only to keep a code block whole
    # is an earlier boundary better than a cut through a word.
    passes = [(start + limit // 2, True)]
    if any(start < a < stop < b for a, b in blocks):
        passes.append((start + 1, True))
    passes.append((start + limit // 2, False))
    for floor, avoid in passes:
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
