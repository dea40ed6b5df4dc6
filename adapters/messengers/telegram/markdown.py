"""The model's Markdown as Telegram text plus formatting entities.

Telegram's own Markdown modes reject a message with one stray ``*``; models write such text
all the time. Converting here, into explicit entities, lets odd input degrade to literal
characters instead of a refused message. The inline rules follow CommonMark's delimiter runs
closely enough that ``snake_case``, ``2 * 3`` and list bullets stay as they are.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from collections.abc import Callable
from typing import TypeAlias

import attrs
from telethon.tl import types

from adapters.messengers.telegram.text import Entity, units

log = logging.getLogger(__name__)

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_ASCII_PUNCTUATION = frozenset(string.punctuation)
_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
# "(url)" right after the label; the url may hold balanced parentheses, as Wikipedia's do.
_TARGET = re.compile(r"\(([^\s()]*(?:\([^\s()]*\)[^\s()]*)*)\)")


def to_entities(markdown: str) -> tuple[str, list[Entity]]:
    """``markdown`` as (text, entities); offsets count UTF-16 units. Never raises."""
    try:
        builder = _Builder()
        _blocks(markdown.replace("\r\n", "\n"), builder)
        return builder.result()
    except Exception:  # a formatting bug must not cost the user the answer
        log.exception("could not convert Markdown; sending it as plain text")
        return markdown, []


# -- output ------------------------------------------------------------------------------------


@attrs.define
class _Span:
    """An entity being built: where it starts and ends in the output, in UTF-16 units."""

    make: Callable[[int, int], Entity]
    start: int = -1
    end: int = -1


@attrs.define
class _Builder:
    pieces: list[str] = attrs.field(factory=list)
    position: int = 0
    spans: list[_Span] = attrs.field(factory=list)

    def add(self, text: str) -> None:
        self.pieces.append(text)
        self.position += units(text)

    def open(self, make: Callable[[int, int], Entity]) -> _Span:
        span = _Span(make, start=self.position)
        self.spans.append(span)
        return span

    def result(self) -> tuple[str, list[Entity]]:
        done = [s for s in self.spans if s.start >= 0 and s.end > s.start]
        done.sort(key=lambda s: (s.start, s.start - s.end))
        return "".join(self.pieces), [s.make(s.start, s.end - s.start) for s in done]


def _bold(offset: int, length: int) -> Entity:
    return types.MessageEntityBold(offset, length)


def _italic(offset: int, length: int) -> Entity:
    return types.MessageEntityItalic(offset, length)


def _strike(offset: int, length: int) -> Entity:
    return types.MessageEntityStrike(offset, length)


def _quote(offset: int, length: int) -> Entity:
    return types.MessageEntityBlockquote(offset, length)


def _code(offset: int, length: int) -> Entity:
    return types.MessageEntityCode(offset, length)


def _pre(language: str) -> Callable[[int, int], Entity]:
    return lambda offset, length: types.MessageEntityPre(offset, length, language)


def _link(url: str) -> Callable[[int, int], Entity]:
    return lambda offset, length: types.MessageEntityTextUrl(offset, length, url)


# -- blocks ------------------------------------------------------------------------------------


def _blocks(source: str, out: _Builder) -> None:
    """Fenced code, headings, quotes and paragraphs; other lines stay as they were written."""
    lines = source.split("\n")
    emitted = False
    paragraph: list[str] = []

    def separate() -> None:
        nonlocal emitted
        if emitted:
            out.add("\n")
        emitted = True

    def flush() -> None:
        if paragraph:
            separate()
            _render(_inline("\n".join(paragraph)), out)
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        heading = _HEADING.match(line)
        if fence:
            flush()
            end = _closing_fence(lines, i + 1, fence.group(2))
            indent = len(fence.group(1))
            code = "\n".join(_dedent(row, indent) for row in lines[i + 1 : end])
            separate()
            span = out.open(_pre(fence.group(3)))
            out.add(code)
            span.end = out.position
            i = end + 1
            continue
        if heading:
            flush()
            separate()
            span = out.open(_bold)
            _render(_inline(heading.group(1)), out)
            span.end = out.position
        elif _QUOTE.match(line):
            flush()
            separate()
            quoted = []
            while i < len(lines) and (row := _QUOTE.match(lines[i])):
                quoted.append(row.group(1))
                i += 1
            span = out.open(_quote)
            _render(_inline("\n".join(quoted)), out)
            span.end = out.position
            continue
        elif not line.strip():
            flush()
            separate()
            out.add(line)
        else:
            paragraph.append(line)
        i += 1
    flush()


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    """The index of the line closing ``fence``; an unclosed fence runs to the end (CommonMark)."""
    for j in range(start, len(lines)):
        row = lines[j].strip()
        if row and set(row) == {fence[0]} and len(row) >= len(fence):
            return j
    return len(lines)


def _dedent(row: str, indent: int) -> str:
    """``row`` without the fence's own indentation (a fence nested in a list item)."""
    taken = len(row) - len(row.lstrip(" "))
    return row[min(taken, indent) :]


# -- inline ------------------------------------------------------------------------------------


@attrs.define(eq=False)
class _Delim:
    """A run of ``*`` or ``_``; matching consumes it from the inside out."""

    char: str
    count: int
    can_open: bool
    can_close: bool
    length: int = 0  # the original count, for the "rule of three"
    starts: list[_Span] = attrs.field(factory=list)
    ends: list[_Span] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.length = self.count


@attrs.frozen
class _Code:
    text: str


@attrs.frozen
class _Link:
    label: list[_Token]
    url: str


_Token: TypeAlias = "str | _Delim | _Code | _Link"


def _inline(source: str) -> list[_Token]:
    tokens = _tokens(source)
    _match_emphasis(tokens)
    return tokens


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    literal: list[str] = []
    closers = _bracket_pairs(source)
    n = len(source)

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    i = 0
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in _ASCII_PUNCTUATION:
            literal.append(source[i + 1])
            i += 2
        elif char == "`":
            run = _run(source, i)
            end = _closing_backticks(source, i + run, run)
            if end < 0:
                literal.append("`" * run)
            else:
                flush()
                tokens.append(_Code(_code_text(source[i + run : end])))
                run = end + run - i
            i += run
        elif char == "[" and (link := _parse_link(source, i, closers)) is not None:
            flush()
            tokens.append(link[0])
            i = link[1]
        elif char in "*_" or (char == "~" and _run(source, i) == 2):
            run = _run(source, i)
            flush()
            tokens.append(_delimiter(source, i, run))
            i += run
        elif char == "~":  # one tilde ("~5 min") or three and more: text, not strikethrough
            run = _run(source, i)
            literal.append("~" * run)
            i += run
        else:
            literal.append(char)
            i += 1
    flush()
    return tokens


def _run(source: str, i: int) -> int:
    j = i
    while j < len(source) and source[j] == source[i]:
        j += 1
    return j - i


def _closing_backticks(source: str, start: int, run: int) -> int:
    """Where a run of exactly ``run`` backticks begins after ``start``, or -1."""
    j = source.find("`" * run, start)
    while j >= 0:
        length = _run(source, j)
        if length == run:
            return j
        j = source.find("`" * run, j + length)
    return -1


def _code_text(raw: str) -> str:
    text = raw.replace("\n", " ")
    if len(text) > 1 and text[0] == " " and text[-1] == " " and text.strip():
        return text[1:-1]
    return text


def _bracket_pairs(source: str) -> dict[int, int]:
    """Each ``[`` mapped to its ``]``, found in one pass so odd text costs no quadratic search."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            stack.append(i)
        elif char == "]" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def _parse_link(source: str, i: int, closers: dict[int, int]) -> tuple[_Link, int] | None:
    """``[label](url)`` starting at ``i``: the link and where it ends, or None."""
    close = closers.get(i)
    if close is None:
        return None
    # Titles and spaced urls are rare in model output: such links stay literal.
    target = _TARGET.match(source, close + 1)
    if target is None:
        return None
    url = target.group(1).strip("<>")
    label = source[i + 1 : close]
    if not url or not label.strip() or not _linkable(url):
        return None
    return _Link(_inline(label), url), target.end()


def _linkable(url: str) -> bool:
    """Only absolute links Telegram opens safely: javascript:, data:, relative paths and the
    like stay literal text, where the reader can see them."""
    scheme, colon, rest = url.partition(":")
    return bool(colon and rest) and scheme.lower() in _SCHEMES


def _is_punctuation(char: str) -> bool:
    return char in _ASCII_PUNCTUATION or unicodedata.category(char)[0] in "PS"


def _delimiter(source: str, i: int, run: int) -> _Delim:
    """A delimiter run with CommonMark's flanking rules deciding what it may open or close."""
    before = source[i - 1] if i > 0 else " "
    after = source[i + run] if i + run < len(source) else " "
    left = not after.isspace() and (
        not _is_punctuation(after) or before.isspace() or _is_punctuation(before)
    )
    right = not before.isspace() and (
        not _is_punctuation(before) or after.isspace() or _is_punctuation(after)
    )
    char = source[i]
    if char in "*~":
        return _Delim(char, run, can_open=left, can_close=right)
    # "_" never works inside a word, so snake_case_names stay untouched.
    return _Delim(
        char,
        run,
        can_open=left and (not right or _is_punctuation(before)),
        can_close=right and (not left or _is_punctuation(after)),
    )


def _match_emphasis(tokens: list[_Token]) -> None:
    """Pair delimiter runs into bold, italic and strikethrough spans (CommonMark's "process
    emphasis"; ``~~`` as in GitHub's Markdown, pairing only with another ``~~``)."""
    stack: list[_Delim] = []
    # The depth below which a failed search for this kind of closer need not look again,
    # so that a paragraph of stray asterisks stays linear.
    bottoms: dict[tuple[str, bool, int], int] = {}
    for token in tokens:
        if not isinstance(token, _Delim):
            continue
        closer = token
        if closer.can_close:
            key = (closer.char, closer.can_open, closer.length % 3)
            while closer.count > 0:
                index = _find_opener(stack, closer, bottoms.get(key, 0))
                if index < 0:
                    bottoms[key] = len(stack)
                    break
                opener = stack[index]
                used = 2 if opener.count >= 2 and closer.count >= 2 else 1
                if closer.char == "~":
                    span = _Span(_strike)
                else:
                    span = _Span(_bold if used == 2 else _italic)
                opener.count -= used
                closer.count -= used
                opener.starts.append(span)
                closer.ends.append(span)
                keep = index + 1 if opener.count else index
                del stack[keep:]  # delimiters between the pair can no longer match
                for name, depth in bottoms.items():
                    bottoms[name] = min(depth, keep)
        if closer.count > 0 and closer.can_open:
            stack.append(closer)


def _find_opener(stack: list[_Delim], closer: _Delim, bottom: int) -> int:
    for index in range(len(stack) - 1, bottom - 1, -1):
        opener = stack[index]
        if opener.char != closer.char or opener.count == 0:
            continue
        if closer.char == "~":
            return index  # always a run of two: no rule of three
        either_way = opener.can_close or closer.can_open
        total = opener.length + closer.length
        if either_way and total % 3 == 0 and (opener.length % 3 or closer.length % 3):
            continue  # CommonMark's rule of three: "*a**b*" is not "a" then "b"
        return index
    return -1


def _render(tokens: list[_Token], out: _Builder) -> None:
    for token in tokens:
        if isinstance(token, str):
            out.add(token)
        elif isinstance(token, _Code):
            span = out.open(_code)
            out.add(token.text)
            span.end = out.position
        elif isinstance(token, _Link):
            span = out.open(_link(token.url))
            _render(token.label, out)
            span.end = out.position
        else:
            # Spans closed here were opened before this run's leftover characters, and spans
            # opened here start after them: the used characters are the ones next to the text.
            for span in token.ends:
                span.end = out.position
            out.add(token.char * token.count)
            for span in token.starts:
                span.start = out.position
                out.spans.append(span)
