"""A deterministic chat model that needs no network: it describes what it received.

It lets anyone try the bot and watch reply chains and prompts at work without an API key, and it
is the model of the tests and benchmarks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import attrs

from core.ports import TokenCounter
from core.tokens import prompt_tokens
from core.values import Chunk, ModelRequest, Role, Usage

_QUOTE_LIMIT = 300


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"


def compose_answer(request: ModelRequest) -> str:
    """The answer for a request: how many turns, which system prompt, what the user said."""
    system = next((t.text for t in request.turns if t.role is Role.SYSTEM), "")
    dialogue = [t for t in request.turns if t.role is not Role.SYSTEM]
    earlier = dialogue[:-1]
    message = dialogue[-1].text if dialogue else ""
    lines = [
        f"Offline model: I received {len(dialogue)} turn(s): "
        f"{len(earlier)} earlier and your message.",
        f"System prompt: «{_quote(system)}»",
    ]
    lines += [f"Turn {n}, {t.role.value}: «{_quote(t.text)}»" for n, t in enumerate(earlier, 1)]
    lines.append(f"You said: «{_quote(message)}»")
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
