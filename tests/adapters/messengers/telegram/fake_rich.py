"""What the fake Telegram checks of a rich message before it takes it.

Telegram's documented limits (Bot API "Rich Message Limits"; TDLib's ``rich_message_*``
options): 32 768 characters of text, 500 blocks counting list items, table rows, quotes and
details blocks, 16 levels of nesting, 20 table columns. The fake counts from the Markdown as
sent, erring on the strict side (a line of text outside code counts as a block).

The error names: Telegram documents none for these limits; RICH_VALIDATE_CTOR_NOT_ALLOWED is
the one seen in the wild (a constructor a bot may not send). These follow the pattern, and the
bot treats any ``RICH_…`` error alike.
"""

from __future__ import annotations

import re
from typing import Any

from telethon import errors

TEXT_MAX = 32_768
BLOCKS_MAX = 500
DEPTH_MAX = 16
COLUMNS_MAX = 20

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def refusal(markdown: str) -> str | None:
    """The error Telegram would answer this rich Markdown with, or None."""
    if not markdown.strip():
        return "RICH_MESSAGE_EMPTY"
    if len(markdown) > TEXT_MAX:
        return "RICH_TEXT_TOO_LONG"
    blocks = 0
    fence: str | None = None
    for line in markdown.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            blocks += 1
            continue
        if not line.strip():
            continue
        blocks += 1
        if line.lstrip().startswith("|") and len(re.split(r"(?<!\\)\|", line.strip())) - 2 > (
            COLUMNS_MAX
        ):
            return "RICH_TABLE_COLUMNS_TOO_MANY"
        indent = len(line) - len(line.lstrip(" "))
        quotes = len(line) - len(line.lstrip("> ").lstrip()) - indent
        if indent // 2 + quotes > DEPTH_MAX:
            return "RICH_DEPTH_TOO_DEEP"
    if fence is not None:
        return "RICH_MARKDOWN_INVALID"  # an unclosed code block
    if blocks > BLOCKS_MAX:
        return "RICH_BLOCKS_TOO_MANY"
    return None


def check(rich_message: Any, request: Any) -> str:
    """The Markdown of ``rich_message``; raises Telegram's error when it breaks a limit."""
    markdown = getattr(rich_message, "markdown", None)
    if markdown is None:
        raise errors.BadRequestError(request, "RICH_VALIDATE_CTOR_NOT_ALLOWED")
    problem = refusal(markdown)
    if problem is not None:
        raise errors.BadRequestError(request, problem)
    return str(markdown)
