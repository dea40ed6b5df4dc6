"""The models a bot offers, and what their tokens cost.

A person picks one with /model; the first offered is the default. Each has a price: the balance
is charged ``ceil(reported tokens × price)``, so a model ten times dearer costs ten times the
tokens and a free local model (price 0) costs nothing.
"""

from __future__ import annotations

import attrs

from core.values import Account


@attrs.frozen
class ModelOption:
    """One model offered to people."""

    name: str  # what people type after /model, and what is sent to its server
    price: float = 1.0  # balance tokens per token the server reports
    vision: bool = False  # whether it can be sent pictures
    context_budget: int | None = None  # most tokens of prompt; None: the bot's default
    reply_cap: int | None = None  # most tokens one answer may use; None: the bot's default
    description: str = ""  # a few words shown by /model
    web_search: bool = False  # its server offers the web search tool (``/search on``)


@attrs.frozen
class Catalogue:
    """The models offered, the default first."""

    options: tuple[ModelOption, ...] = attrs.field()

    @options.validator
    def _check(self, attribute: object, value: tuple[ModelOption, ...]) -> None:
        if not value:
            raise ValueError("a bot offers at least one model")
        names = [o.name.lower() for o in value]
        if len(set(names)) != len(names):
            raise ValueError("two models offered under one name")

    @property
    def default(self) -> ModelOption:
        return self.options[0]

    def find(self, name: str) -> ModelOption | None:
        """The model offered as ``name`` (any case), or None."""
        wanted = name.strip().lower()
        return next((o for o in self.options if o.name.lower() == wanted), None)

    def of(self, account: Account) -> ModelOption:
        """The model ``account`` chose, or the default when it chose none or one no longer
        offered."""
        chosen = self.find(account.model) if account.model else None
        return chosen or self.default
