"""Token arithmetic the core needs: the heuristic counter, prompt cost, calibration, budgets.

Pure code: the exact tokenizers live in ``adapters.models.openai.tokens``.
"""

from __future__ import annotations

import math
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
    hold a little larger; the charge is always the usage the model reports.
    """

    def count(self, text: str) -> int:
        # ASCII text (the usual, and known without a scan) has a byte per character: no copy.
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        return (size * 2 + 4) // 5


def prompt_tokens(counter: TokenCounter, turns: Iterable[Turn]) -> int:
    """Tokens a list of turns costs as a prompt, markup and pictures included."""
    return TOKENS_PER_REQUEST + sum(turn_tokens(counter, t) for t in turns)


def turn_tokens(counter: TokenCounter, turn: Turn) -> int:
    """Tokens one turn costs: its text, its markup and an estimate for each of its pictures."""
    pictures = sum(image_tokens(a.width, a.height) for a in turn.attachments)
    return counter.count(turn.text) + TOKENS_PER_TURN + pictures


# OpenAI's documented rule for a picture sent in detail (GPT-4o, 4.1, 5 and their kin): the
# picture is scaled to fit 2048 x 2048, then so that its shorter side is at most 768; it costs
# 85 tokens plus 170 for each 512-pixel tile that covers it. A picture of unknown size is
# counted as the dearest a 4:3 photo can be (768 x 1024: 6 tiles).
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
UNKNOWN_IMAGE_TOKENS = IMAGE_BASE_TOKENS + 6 * IMAGE_TILE_TOKENS


def image_tokens(width: int | None, height: int | None) -> int:
    """The estimated prompt tokens of a picture of ``width`` x ``height`` pixels."""
    if not width or not height or width <= 0 or height <= 0:
        return UNKNOWN_IMAGE_TOKENS
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return IMAGE_BASE_TOKENS + tiles * IMAGE_TILE_TOKENS


class CalibratingCounter:
    """A counter whose estimates a server's reported usage corrects over time.

    Counts ``ratio`` times what ``base`` counts. Each ``observe`` moves the ratio towards
    reported / estimated prompt tokens: the first answers count fully (a running mean), later
    ones with ``weight`` (an exponential average in log space, so that halving and doubling
    weigh alike), which keeps one odd answer from swinging it. Every sample and the ratio itself
    stay within ``[lowest, highest]``: a server that reports nonsense cannot make the estimate
    absurd. One instance per model: each model's tokenizer differs from the base in its own way.
    """

    def __init__(
        self,
        base: TokenCounter,
        *,
        weight: float = 0.2,
        lowest: float = 0.25,
        highest: float = 4.0,
    ) -> None:
        if not 0 < weight <= 1:
            raise ValueError("weight must be in (0, 1]")
        if not 0 < lowest <= 1 <= highest:
            raise ValueError("the bounds must surround 1")
        self.base = base
        self._weight = weight
        self._lowest = math.log(lowest)
        self._highest = math.log(highest)
        self._log_ratio = 0.0
        self.observations = 0

    def __repr__(self) -> str:
        return f"CalibratingCounter({self.base!r}, ratio={self.ratio:.3f})"

    @property
    def ratio(self) -> float:
        return math.exp(self._log_ratio)

    def count(self, text: str) -> int:
        raw = self.base.count(text)
        return math.ceil(raw * self.ratio) if raw else 0

    def uncorrected(self, turns: Iterable[Turn]) -> int:
        """The base counter's prompt estimate: what ``observe`` compares a report with."""
        return prompt_tokens(self.base, turns)

    def observe(self, estimated_prompt: int, reported_prompt: int) -> None:
        """Learn from one answer: ``estimated_prompt`` is ``uncorrected(turns)`` (the BASE
        estimate, not this counter's) and ``reported_prompt`` the server's count of the same."""
        if estimated_prompt <= 0 or reported_prompt <= 0:
            return
        sample = _clamp(math.log(reported_prompt / estimated_prompt), self._lowest, self._highest)
        self.observations += 1
        weight = max(self._weight, 1 / self.observations)
        self._log_ratio += weight * (sample - self._log_ratio)


def _clamp(value: float, lowest: float, highest: float) -> float:
    return min(max(value, lowest), highest)


def fit_budgets(window: int, context_limit: int, reply_cap: int) -> tuple[int, int]:
    """The prompt budget and reply cap to use with a model of ``window`` tokens.

    Both limits are kept when they fit together. Otherwise the reply gets at most its cap and
    at least a quarter of the window (or whatever the prompt budget leaves, if more), and the
    prompt gets the rest, at most ``context_limit``: 4 000 + 3 000 in a 4 096 window become
    3 072 + 1 024. The conversation is what makes answers good, the reply can be continued.
    """
    if window <= 0 or context_limit <= 0 or reply_cap <= 0:
        raise ValueError("the window and both limits must be positive")
    if context_limit + reply_cap <= window:
        return context_limit, reply_cap
    reply = min(reply_cap, max(window // 4, window - context_limit))
    return min(context_limit, window - reply), reply
