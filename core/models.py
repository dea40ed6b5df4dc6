"""The models a bot offers, and what their tokens cost.

A person picks one with /model; the first is the default. Each has a price multiplier: the
balance is charged ``ceil(reported tokens × price)``, so a model ten times dearer costs ten
times the tokens and a free local model (price 0) costs nothing.
"""

from __future__ import annotations

import math

import attrs


@attrs.frozen
class ModelOption:
    """One model offered to people."""

    name: str  # what people type after /model, and what is sent to its server
    price: float = 1.0  # balance tokens per token the server reports
    vision: bool = False  # whether it can be sent pictures
    context_budget: int | None = None  # most tokens of prompt; None: the bot's default
    reply_cap: int | None = None  # most tokens one answer may use; None: the bot's default
    description: str = ""  # a few words shown by /model

    def cost(self, tokens: int) -> int:
        """Balance tokens for ``tokens`` of this model."""
        return math.ceil(max(tokens, 0) * self.price - 1e-9)

    def affordable(self, balance_tokens: int) -> int:
        """Model tokens that ``balance_tokens`` pays for (a free model: any number)."""
        if self.price <= 0:
            return 2**62
        return math.floor(balance_tokens / self.price + 1e-9)
