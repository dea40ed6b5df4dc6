"""The model's Markdown as Telegram rich messages (Bot API 10.1, layer 229).

Telegram renders Markdown itself when a message goes with ``rich_message=
inputRichMessageMarkdown``: headings, lists, tables, code, quotes, ``$…$`` and ``$$…$$`` math.
Models write nearly that dialect; this module mends where they differ:

- ``\\(…\\)`` and ``\\[…\\]`` (LaTeX delimiters many models prefer) become ``$…$`` / ``$$…$$``;
- a ``$`` that opens no formula (prices: "$5 and $10") is escaped, by pandoc's rule: a formula
  starts with ``$`` before a non-space and ends with ``$`` after a non-space, not before a digit;
- something that looks like an HTML tag outside code is escaped, so it shows as written;
- a table wider than Telegram's 20 columns is sent as a code block instead of being refused;
- an unclosed code fence or ``$$`` (a cut answer) is closed.

Telegram's documented limits (Bot API "Rich Message Limits", TDLib's ``rich_message_*``
options): 32 768 characters of text, 500 blocks counting list items and table rows, 16 levels
of nesting, 20 columns in a table. Some clients were seen showing 10-15 k-character rich
messages only in part, with no error, so one message holds at most ``RICH_MESSAGE_LIMIT``
characters (8 000 by default) and a longer answer is cut between blocks: never inside a table
row (a table cut between rows repeats its header), a code block (unless it alone is too long:
then it is closed and reopened) or a formula.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

import attrs

log = logging.getLogger(__name__)

TEXT_LIMIT = 32_768  # characters of text in one rich message (Telegram's documented limit)
BLOCK_LIMIT = 500  # blocks, list items and table rows in one rich message
COLUMN_LIMIT = 20  # columns of a table
DEFAULT_SIZE = 8_000  # RICH_MESSAGE_LIMIT: well under the 10-15 k some clients cut short
_BLOCKS_KEPT = 450  # lines in one message: a line is at most one block, with room to spare
REASONING_KEPT = 3_000  # characters of reasoning kept in a final message (its end)
THOUGHT = "💭"  # the summary of the collapsed reasoning

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_HEADING = re.compile(r"#{1,6}(\s|$)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)


@attrs.frozen
class Block:
    """A top-level piece of the answer that must not be cut: its Markdown and its kind."""

    text: str
    kind: str = "text"  # "text", "code", "math", "table"


def normalise(markdown: str) -> str:
    """The answer in Telegram's rich Markdown (see the module's notes)."""
    return "\n\n".join(block.text for block in blocks(markdown))


def blocks(markdown: str) -> list[Block]:
    """``markdown`` as its top-level blocks, each normalised."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    found: list[Block] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            found.append(Block(_inline("\n".join(paragraph))))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end_paragraph()
            mark = fence.group(1)
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(mark):
                end += 1
            body = lines[i : end + 1] if end < len(lines) else [*lines[i:], mark]
            found.append(Block("\n".join(body), "code"))
            i = end + 1
            continue
        stripped = line.strip()
        if stripped.startswith(("$$", "\\[")):
            end_paragraph()
            math, i = _display_math(lines, i)
            found.append(Block(math, "math"))
            continue
        if "|" in line and i + 1 < len(lines) and _DELIMITER_ROW.match(lines[i + 1]):
            end_paragraph()
            end = i + 2
            while end < len(lines) and "|" in lines[end] and lines[end].strip():
                end += 1
            found.append(_table(lines[i:end]))
            i = end
            continue
        if not stripped:
            end_paragraph()
        elif _HEADING.match(stripped):
            end_paragraph()
            found.append(Block(_inline(line)))
        else:
            paragraph.append(line)
        i += 1
    end_paragraph()
    return [block for block in found if block.text.strip()]


def _display_math(lines: list[str], start: int) -> tuple[str, int]:
    """The ``$$…$$`` (or ``\\[…\\]``) starting at line ``start``, as ``$$…$$``; the next line."""
    first = lines[start].strip()
    opener, closer = ("$$", "$$") if first.startswith("$$") else ("\\[", "\\]")
    rest = first[len(opener) :]
    if closer in rest:  # on one line
        inside, after = rest.split(closer, 1)
        text = f"$${inside}$$" + (f"\n\n{_inline(after.strip())}" if after.strip() else "")
        return text, start + 1
    body = [rest] if rest else []
    end = start + 1
    while end < len(lines) and closer not in lines[end]:
        body.append(lines[end])
        end += 1
    if end < len(lines):
        last = lines[end].split(closer, 1)[0]
        if last.strip():
            body.append(last)
    return "$$\n" + "\n".join(body).strip("\n") + "\n$$", end + 1


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return re.split(r"(?<!\\)\|", row)


def _table(rows: list[str]) -> Block:
    if len(_cells(rows[0])) > COLUMN_LIMIT:
        # Telegram refuses it as a table: the same rows, aligned as the model wrote them.
        return Block("```\n" + "\n".join(rows) + "\n```", "code")
    header, delimiter, *body = rows
    return Block("\n".join([_inline(header), delimiter, *(_inline(row) for row in body)]), "table")


def _inline(text: str) -> str:
    """Math delimiters and escapes mended outside inline code."""
    out: list[str] = []
    last = 0
    for code in _INLINE_CODE.finditer(text):
        out += [_prose(text[last : code.start()]), code.group(0)]
        last = code.end()
    out.append(_prose(text[last:]))
    return "".join(out)


def _prose(text: str) -> str:
    text = re.sub(r"\\\((.+?)\\\)", lambda m: f"${m.group(1).strip()}$", text, flags=re.DOTALL)
    text = re.sub(r"\\\[(.+?)\\\]", lambda m: f"$${m.group(1).strip()}$$", text, flags=re.DOTALL)
    return _dollars(text)


def _dollars(text: str) -> str:
    """Every ``$`` that opens or closes no formula, escaped; ``$$…$$`` inline left alone."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        if char != "$":
            # Outside formulas only: "$a<b$" is math, "<div>" would be taken for a tag.
            out.append("\\<" if _TAG.match(text, i) else char)
            i += 1
            continue
        if text.startswith("$$", i):
            end = text.find("$$", i + 2)
            if end > i + 2:
                out.append(text[i : end + 2])
                i = end + 2
                continue
            out.append("\\$\\$")
            i += 2
            continue
        closing = _closing_dollar(text, i)
        if closing is None:
            out.append("\\$")
            i += 1
        else:
            out.append(text[i : closing + 1])
            i = closing + 1
    return "".join(out)


def _closing_dollar(text: str, start: int) -> int | None:
    if start + 1 >= len(text) or text[start + 1].isspace():
        return None
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "\n" and text[i + 1 : i + 2] == "\n":
            return None  # a formula does not cross a paragraph
        if text[i] == "$":
            after = text[i + 1 : i + 2]
            if not text[i - 1].isspace() and not after.isdigit():
                return i
            return None
        i += 1
    return None


# -- one message's worth ----------------------------------------------------------------------


def messages(markdown: str, size: int = DEFAULT_SIZE) -> list[str]:
    """The answer as rich messages of at most ``size`` characters and ``_BLOCKS_KEPT`` lines
    each, cut only between blocks (a table between rows, an oversized code block between
    lines); never none."""
    out: list[str] = []
    current: list[str] = []
    for block in blocks(markdown):
        for piece in _pieces(block, size):
            joined = "\n\n".join([*current, piece])
            if current and (len(joined) > size or _lines(joined) > _BLOCKS_KEPT):
                out.append("\n\n".join(current))
                current = []
            current.append(piece)
    if current:
        out.append("\n\n".join(current))
    return out or ["…"]


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _pieces(block: Block, size: int) -> list[str]:
    """``block`` as pieces that each fit in a message."""
    if len(block.text) <= size and _lines(block.text) <= _BLOCKS_KEPT:
        return [block.text]
    lines = block.text.split("\n")
    if block.kind == "table":
        head, rows, repeat = lines[:2], lines[2:], True
    elif block.kind == "code":
        head, rows, repeat = [lines[0]], lines[1:-1], True
    else:  # a paragraph or a formula that alone fills a message: between lines, or whole
        head, rows, repeat = [], lines, False
    tail = [lines[-1]] if block.kind == "code" else []
    pieces: list[str] = []
    current: list[str] = []
    for row in rows:
        candidate = [*head, *current, row, *tail]
        if current and (len("\n".join(candidate)) > size or len(candidate) > _BLOCKS_KEPT):
            pieces.append("\n".join([*head, *current, *tail]))
            current = []
            if not repeat:
                head = []
        current.append(row)
    if current:
        pieces.append("\n".join([*head, *current, *tail]))
    return pieces


def draft(markdown: str, size: int) -> str:
    """The end of a growing answer for a draft: its last whole blocks within ``size``
    characters (unclosed fences and formulas closed), or the end of its last block."""
    kept: list[str] = []
    for block in reversed(blocks(markdown)):
        if len("\n\n".join([block.text, *kept])) > size:
            if not kept:
                kept = [block.text[-size:].split("\n", 1)[-1]]
            break
        kept.insert(0, block.text)
    return "\n\n".join(kept)


def with_reasoning(markdown: str, reasoning: str) -> str:
    """``markdown`` below its reasoning folded in a collapsed block."""
    if not reasoning.strip():
        return markdown
    folded = f"<details>\n<summary>{THOUGHT}</summary>\n\n{_quoted(reasoning)}\n\n</details>"
    return f"{folded}\n\n{markdown}"


def reasoning_kept(reasoning: str, size: int = REASONING_KEPT) -> str:
    """The end of the reasoning, at most ``size`` characters, starting at a line if it can."""
    reasoning = reasoning.strip()
    if len(reasoning) <= size:
        return reasoning
    end = reasoning[-size:]
    line = end.find("\n")
    return "…" + (end[line:] if 0 <= line < size // 4 else end)


def _quoted(reasoning: str) -> str:
    """Reasoning is prose, not Markdown to render: escaped so that it shows as written."""
    return re.sub(r"([\\`*_~|$#<>\[\]=])", r"\\\1", reasoning_kept(reasoning))


def quote(text: str) -> str:
    """``text`` as a Markdown block quotation (the reasoning in a draft)."""
    return "\n".join("> " + line for line in _quoted(text).split("\n"))


# -- when Telegram refuses --------------------------------------------------------------------


def refusal(exc: BaseException) -> str | None:
    """Why Telegram refused a rich message, or None if the error is about something else: any
    ``RICH_…`` error, an unknown constructor or method (a server or layer without rich
    messages), a message too long for it."""
    message = str(getattr(exc, "message", "") or "")
    if message.startswith("RICH_") or message in _NO_RICH:
        return message
    if type(exc).__name__ == "TypeNotFoundError":
        return "unknown constructor"
    return None


_NO_RICH = frozenset(
    {
        "INPUT_CONSTRUCTOR_INVALID",
        "CONSTRUCTOR_INVALID",
        "INPUT_METHOD_INVALID",
        "MESSAGE_TOO_LONG",
        "ENTITIES_TOO_LONG",
    }
)


@attrs.define
class RichHealth:
    """Whether rich messages are worth trying: after ``refusals`` refusals in a row Telegram's
    entities are used for ``pause`` seconds (and the log says why), then rich is tried again."""

    refusals: int = 3
    pause: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _in_a_row: int = 0
    _until: float = 0.0

    def usable(self) -> bool:
        return self.clock() >= self._until

    def refused(self, reason: str) -> None:
        self._in_a_row += 1
        if self._in_a_row >= self.refusals and self.usable():
            self._until = self.clock() + self.pause
            log.warning(
                "Telegram refused %d rich messages in a row (last: %s); sending formatted "
                "text for %.0f s",
                self._in_a_row,
                reason,
                self.pause,
            )
            self._in_a_row = 0

    def worked(self) -> None:
        self._in_a_row = 0
