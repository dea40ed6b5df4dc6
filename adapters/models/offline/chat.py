"""A deterministic chat model that needs no network: it describes what it received.

It lets anyone try the bot and watch reply chains and prompts at work without an API key, and it
is the model of the tests and benchmarks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs

from adapters.media.headers import describe_size, picture_size
from core.ports import TokenCounter
from core.tokens import prompt_tokens
from core.values import Chunk, Image, ModelRequest, Role, Turn, Usage

_QUOTE_LIMIT = 300


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def describe_pictures(images: tuple[Image, ...]) -> str:
    """What a model that sees would be given: how many pictures, their type, size, bytes."""
    parts = []
    for image in images:
        size = picture_size(image.data)
        pixels = f" {size[0]}×{size[1]}" if size else ""
        parts.append(f"{image.mime}{pixels}, {describe_size(len(image.data))}")
    return f"{len(images)} picture(s): " + "; ".join(parts)


def _turn_line(n: int, turn: Turn) -> str:
    line = f"Turn {n}, {turn.role.value}: «{_quote(turn.text)}»"
    return line + (f" with {describe_pictures(turn.images)}" if turn.images else "")


def compose_answer(request: ModelRequest) -> str:
    """The answer for a request: how many turns, which system prompt, what the user said, and
    the pictures it was given."""
    system = next((t.text for t in request.turns if t.role is Role.SYSTEM), "")
    dialogue = [t for t in request.turns if t.role is not Role.SYSTEM]
    earlier = dialogue[:-1]
    last = dialogue[-1] if dialogue else Turn(Role.USER, "")
    lines = [
        f"Offline model: I received {len(dialogue)} turn(s): "
        f"{len(earlier)} earlier and your message.",
        f"System prompt: «{_quote(system)}»",
    ]
    lines += [_turn_line(n, t) for n, t in enumerate(earlier, 1)]
    lines.append(f"You said: «{_quote(last.text)}»")
    if last.images:
        lines.append(f"With your message I received {describe_pictures(last.images)}.")
    return "\n".join(lines)


@attrs.define
class OfflineModel:
    """Streams ``compose_answer`` in word-sized chunks, then the usage from the token counter.

    ``delay`` seconds pass before each chunk, so streaming can be seen in the console.
    """

    counter: TokenCounter
    delay: float = 0.0
    chunks: int = 8

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        whole = compose_answer(request)
        answer = self._capped(whole, request.max_tokens)
        words = answer.split(" ")
        size = max(1, -(-len(words) // self.chunks))
        for start in range(0, len(words), size):
            if self.delay:
                await asyncio.sleep(self.delay)
            piece = " ".join(words[start : start + size])
            yield Chunk(text=piece if start == 0 else " " + piece)
        # Counted here, not by a server: an estimate, and marked as one.
        usage = Usage(
            prompt_tokens(self.counter, request.turns),
            self.counter.count(answer),
            estimated=True,
        )
        yield Chunk(usage=usage, cut_off=answer != whole)

    async def close(self) -> None:
        """Nothing to release; the port asks every model for it."""

    def _capped(self, answer: str, max_tokens: int) -> str:
        # Like a real model, never write more than the cap allows.
        while answer and self.counter.count(answer) > max_tokens:
            answer = answer[: len(answer) * 3 // 4]
        return answer
