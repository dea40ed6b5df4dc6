"""Text measured the way Telegram measures it: in UTF-16 code units.

Entity offsets and the 4096 limit count UTF-16 units, so a character outside the Basic
Multilingual Plane (most emoji) counts twice. Converting to "surrogate form" (one Python
character per unit) lets the rest of the adapter slice and measure with plain ``len``.
"""

from __future__ import annotations

import copy
import struct
from typing import Any, TypeAlias

# Telethon ships no type information; an entity is one of its ``MessageEntity*`` objects.
Entity: TypeAlias = Any

LIMIT = 4096  # the longest message Telegram accepts, in UTF-16 units


def units(text: str) -> int:
    """The length of ``text`` in UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def to_surrogates(text: str) -> str:
    """``text`` with every astral character written as its two surrogate halves."""
    if not _astral(text):
        return text
    data = text.encode("utf-16-le")
    return "".join(map(chr, struct.unpack(f"<{len(data) // 2}H", data)))


def from_surrogates(text: str) -> str:
    """The inverse of :func:`to_surrogates`; a lone surrogate is kept as it is."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def safe_cut(surrogated: str, index: int) -> int:
    """``index``, moved left if it would separate the two halves of a surrogate pair."""
    if 0 < index < len(surrogated) and "\ud800" <= surrogated[index - 1] <= "\udbff":
        return index - 1
    return index


def head(text: str, limit: int = LIMIT) -> str:
    """The longest start of ``text`` within ``limit`` units that keeps every character whole."""
    if units(text) <= limit:
        return text
    surrogated = to_surrogates(text)
    return from_surrogates(surrogated[: safe_cut(surrogated, limit)])


def moved(entity: Entity, offset: int, length: int) -> Entity:
    """A copy of ``entity`` over another range; the original may be shared and must not change."""
    clone = copy.copy(entity)
    clone.offset = offset
    clone.length = length
    return clone


def _astral(text: str) -> bool:
    return any(ord(char) > 0xFFFF for char in text)
