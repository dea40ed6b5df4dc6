"""How an answer is dressed for Telegram (``MESSAGE_FORMAT``): rich messages, entities, plain.

- ``rich``: Telegram renders the Markdown (tables, math, headings, code); a message holds up to
  ``RICH_MESSAGE_LIMIT`` characters. Each rich message carries its entities version: when
  Telegram refuses it, that goes instead (``writer.Writer``), and after repeated refusals the
  whole answer is sent as entities for a while (``rich.RichHealth``).
- ``entities``: the Markdown converted to Telegram's formatting entities, 4 096 characters a
  message (tables and formulas show as their source).
- ``plain``: the text as written.

The model's reasoning sits above the answer, folded: a collapsed ``<details>`` block in a rich
message, an expandable block quotation with entities, nothing in plain text (nor anywhere with
``SHOW_REASONING=false``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import attrs
from telethon.tl import types

from adapters.messengers.telegram import rich
from adapters.messengers.telegram.markdown import to_entities
from adapters.messengers.telegram.split import Part, parts_of, split
from adapters.messengers.telegram.text import (
    LIMIT,
    from_surrogates,
    moved,
    to_surrogates,
    units,
)


class MessageFormat(enum.StrEnum):
    """``MESSAGE_FORMAT``: how the final answers look."""

    RICH = "rich"
    ENTITIES = "entities"
    PLAIN = "plain"


@attrs.define
class Formatter:
    """Turns a final answer into the parts to send."""

    format: MessageFormat = MessageFormat.RICH
    rich_size: int = rich.DEFAULT_SIZE
    limit: int = LIMIT
    show_reasoning: bool = True
    health: rich.RichHealth = attrs.field(factory=rich.RichHealth)

    @property
    def rich_now(self) -> bool:
        """Whether answers go as rich messages now (drafts too)."""
        return self.format is MessageFormat.RICH and self.health.usable()

    def final(self, text: str, *, markdown: bool, reasoning: str = "") -> list[Part]:
        """The parts showing ``text`` (Markdown when ``markdown``) below its ``reasoning``."""
        reasoning = reasoning if self.show_reasoning and markdown else ""
        if not markdown or self.format is MessageFormat.PLAIN:
            return parts_of(text, markdown=False, limit=self.limit)
        if not self.rich_now:
            return entity_parts(text, reasoning, self.limit)
        pieces = rich.messages(text, self.rich_size)
        first = rich.with_reasoning(pieces[0], reasoning)
        return [
            Part(
                markdown,
                rich=markdown,
                fallback=tuple(entity_parts(source, reasoning if i == 0 else "", self.limit)),
            )
            for i, (markdown, source) in enumerate(zip([first, *pieces[1:]], pieces, strict=True))
        ]


def entity_parts(markdown: str, reasoning: str, limit: int = LIMIT) -> list[Part]:
    """``markdown`` as entities, below ``reasoning`` in an expandable block quotation."""
    text, entities = to_entities(markdown)
    kept = rich.reasoning_kept(reasoning)
    if kept:
        prefix = f"{rich.THOUGHT} {kept}\n\n"
        shift = units(prefix)
        entities = [
            types.MessageEntityBlockquote(0, units(prefix.rstrip()), collapsed=True),
            *(moved(e, e.offset + shift, e.length) for e in entities),
        ]
        text = prefix + text
    return split(text, entities, limit=limit) or [Part("…")]


def without_reasoning(text: str, entities: Sequence[Any] | None) -> str:
    """The text of one of the bot's answers as fetched back from Telegram, without the folded
    reasoning above it: the reasoning is never part of the conversation sent to the model."""
    if text.startswith("<details>") and "</details>" in text:  # a rich message's Markdown
        return text.split("</details>", 1)[1].lstrip("\n")
    first = entities[0] if entities else None
    if isinstance(first, types.MessageEntityBlockquote) and first.collapsed and first.offset == 0:
        return from_surrogates(to_surrogates(text)[first.length :]).lstrip("\n")
    return text
