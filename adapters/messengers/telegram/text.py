"""Text measured the way Telegram measures it: in UTF-16 code units.

Entity offsets and the 4096 limit count UTF-16 units, so a character outside the Basic
Multilingual Plane (most emoji) counts twice. Telethon's ``helpers.add_surrogate`` writes such a
character as its two surrogate halves (one Python character per unit), so the rest of the
adapter slices and measures with plain ``len``; ``helpers.del_surrogate`` undoes it.

A cut must also keep what a reader sees as one character whole: a family emoji is several
code points joined by ZERO WIDTH JOINERs, a flag is two regional indicators, an accent may be
a combining mark. Cut inside one and both messages show broken symbols.
"""

from __future__ import annotations

import copy
import unicodedata
from typing import Any, TypeAlias

from telethon import helpers

# Telethon ships no type information; an entity is one of its ``MessageEntity*`` objects.
Entity: TypeAlias = Any

LIMIT = 4096  # the longest message Telegram accepts, in UTF-16 units
MAX_ENTITIES = 100  # Telegram ignores the formatting entities of a message past this many


def to_surrogates(text: str) -> str:
    """``text`` with every astral character as its two surrogate halves (Telethon's helper)."""
    return str(helpers.add_surrogate(text))


def from_surrogates(text: str) -> str:
    """The inverse of :func:`to_surrogates` (Telethon's helper)."""
    return str(helpers.del_surrogate(text))


_ZWJ = 0x200D


def units(text: str) -> int:
    """The length of ``text`` in UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def _low(char: str) -> bool:
    return "\udc00" <= char <= "\udfff"


def _point_at(surrogated: str, index: int) -> int:
    """The code point starting at ``index``."""
    char = surrogated[index]
    if _high(char) and index + 1 < len(surrogated) and _low(surrogated[index + 1]):
        return 0x10000 + ((ord(char) - 0xD800) << 10) + (ord(surrogated[index + 1]) - 0xDC00)
    return ord(char)


def _start_before(surrogated: str, index: int) -> int:
    """Where the code point ending at ``index`` starts."""
    if index >= 2 and _low(surrogated[index - 1]) and _high(surrogated[index - 2]):
        return index - 2
    return index - 1


def _extends(point: int) -> bool:
    """Whether ``point`` belongs to the character before it."""
    return (
        point == _ZWJ
        or 0xFE00 <= point <= 0xFE0F  # variation selectors (emoji or text style)
        or 0x1F3FB <= point <= 0x1F3FF  # skin tones
        or 0xE0020 <= point <= 0xE007F  # tag sequences (subdivision flags)
        or unicodedata.category(chr(point)).startswith("M")  # combining marks
    )


def _regional(point: int) -> bool:
    return 0x1F1E6 <= point <= 0x1F1FF


def safe_cut(surrogated: str, index: int) -> int:
    """``index``, moved left until it separates two whole characters (grapheme clusters)."""
    while 0 < index < len(surrogated):
        if _low(surrogated[index]) and _high(surrogated[index - 1]):
            index -= 1
            continue
        point = _point_at(surrogated, index)
        before = _start_before(surrogated, index)
        previous = _point_at(surrogated, before)
        if _extends(point) or previous == _ZWJ:
            index = before
            continue
        if _regional(point) and _regional(previous) and _regionals_before(surrogated, index) % 2:
            index = before  # between the two halves of a flag
            continue
        break
    return index


def _regionals_before(surrogated: str, index: int) -> int:
    count = 0
    while index > 0:
        before = _start_before(surrogated, index)
        if not _regional(_point_at(surrogated, before)):
            break
        count += 1
        index = before
    return count


def head(text: str, limit: int = LIMIT) -> str:
    """The longest start of ``text`` within ``limit`` units that keeps every character whole."""
    if units(text) <= limit:
        return text
    surrogated = to_surrogates(text)
    return from_surrogates(surrogated[: safe_cut(surrogated, limit)])


def tail(text: str, limit: int = LIMIT) -> str:
    """The longest end of ``text`` within ``limit`` units, starting at a line when it can."""
    if units(text) <= limit:
        return text
    surrogated = to_surrogates(text)
    start = len(surrogated) - limit
    line = surrogated.find("\n", start, start + limit // 4)
    start = line + 1 if line >= 0 else start
    while start < len(surrogated) and safe_cut(surrogated, start) != start:
        start += 1
    return from_surrogates(surrogated[start:])


def moved(entity: Entity, offset: int, length: int) -> Entity:
    """A copy of ``entity`` over another range; the original may be shared and must not change."""
    clone = copy.copy(entity)
    clone.offset = offset
    clone.length = length
    return clone
