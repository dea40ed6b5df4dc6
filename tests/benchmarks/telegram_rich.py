"""Requests per 10 000-character answer (issue 18): rich messages against entities.

A Markdown answer of 10 000 characters (headings, prose, a table, a formula, code) streams into
a private chat (drafts) and into a group (edits) in 100 pieces, one every 0.2 s of a fake clock
(20 s of model time, no real waiting), then is finished. Every request the bot sent the fake
Telegram is counted: drafts or edits while it grows, then the messages of the final answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telethon.tl import functions

from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.sink import TelegramSink
from tests.adapters.messengers.telegram.fakes import ALICE, GROUP_ID, FakeTelegram, Ticker

Row = tuple[str, str, str]
SIZE = 10_000
PIECES = 100
EVERY = 0.2  # seconds of model time between pieces


def answer(size: int = SIZE) -> str:
    table = "| planet | mass | moons |\n|---|--:|:-:|\n" + "\n".join(
        f"| planet {n} | {n}.97e24 kg | {n % 7} |" for n in range(12)
    )
    parts: list[str] = []
    n = 0
    while len("\n\n".join(parts)) < size:
        n += 1
        parts += [
            f"## Section {n}",
            "A paragraph of the answer, with **bold** and `code`, and $E = mc^2$. " * 6,
            table,
            "$$\n\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}\n$$",
            "```python\n" + "\n".join(f"total += {k}" for k in range(15)) + "\n```",
        ]
    return "\n\n".join(parts)[:size]


async def _requests(chat: int, message_format: MessageFormat) -> tuple[int, int]:
    """(requests while streaming, requests of the final answer)."""
    tg, ticker = FakeTelegram(), Ticker()
    sink = TelegramSink(tg, clock=ticker, sleep=ticker.sleep, message_format=message_format)
    text = answer()
    stream = sink.stream(chat, None if chat == ALICE.id else 7)
    step = len(text) // PIECES
    for end in range(step, len(text) + step, step):
        await stream.update(text[:end])
        ticker.advance(EVERY)
    streaming = len(_writes(tg.requests))
    await stream.finish(text)
    sink.close()
    return streaming, len(_writes(tg.requests)) - streaming


def _writes(requests: Sequence[object]) -> list[object]:
    kinds = (
        functions.messages.SendMessageRequest,
        functions.messages.EditMessageRequest,
        functions.messages.SetTypingRequest,
    )
    return [r for r in requests if isinstance(r, kinds)]


def rows(quick: bool) -> list[Row]:
    """The benchmark's lines: (what, measured, target)."""
    table: list[Row] = []
    for message_format in (MessageFormat.RICH, MessageFormat.ENTITIES):
        for chat, where in ((ALICE.id, "private, drafts"), (GROUP_ID, "group, edits")):
            streaming, final = asyncio.run(_requests(chat, message_format))
            table.append(
                (
                    f"requests per {SIZE:,}-character answer, {message_format} ({where}): "
                    "while streaming + final",
                    f"{streaming} + {final}",
                    "",
                )
            )
    return table


if __name__ == "__main__":
    for what, value, target in rows(quick=True):
        print(f"{what:<90}  {value:>10}  {target}")
