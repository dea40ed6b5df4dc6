"""The default token counter: a conservative heuristic that needs no tokenizer files."""

from __future__ import annotations

from collections.abc import Iterable

from core.ports import TokenCounter
from core.values import Turn

# Chat formats wrap every message in a few tokens of markup, and the answer is primed with a few.
TOKENS_PER_TURN = 4
TOKENS_PER_REQUEST = 3


class CharTokenCounter:
    """Counts two tokens for every five UTF-8 bytes, rounded up.

    Real tokenizers give about four ASCII characters per token, so English is over-counted by
    about half; a Cyrillic letter (two bytes) counts 0.8 of a token and an emoji (four bytes)
    1.6, both at or above what the OpenAI tokenizers produce. Over-counting only makes a
    reservation a little larger; the charge is always the usage the model reports.
    """

    def count(self, text: str) -> int:
        return (len(text.encode("utf-8", "surrogatepass")) * 2 + 4) // 5


def prompt_tokens(counter: TokenCounter, turns: Iterable[Turn]) -> int:
    """Tokens a list of turns costs as a prompt, markup included."""
    return TOKENS_PER_REQUEST + sum(counter.count(t.text) + TOKENS_PER_TURN for t in turns)
