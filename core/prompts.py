"""Prompt policy: the default system prompt, users' own prompts and their length limit."""

from __future__ import annotations

import attrs

from core.values import Account

DEFAULT_PROMPT = "You are a helpful assistant"


@attrs.frozen
class PromptTooLong:
    length: int
    limit: int


@attrs.frozen
class PromptPolicy:
    default: str = DEFAULT_PROMPT
    max_chars: int = 2000

    def prompt_for(self, account: Account, mode_prompt: str | None = None) -> str:
        """The system prompt of this account's requests: its own, else its mode's, else the
        default (``core.modes`` says why the person's own comes first)."""
        return account.prompt or mode_prompt or self.default

    def set_prompt(self, account: Account, text: str) -> Account | PromptTooLong:
        text = text.strip()
        if len(text) > self.max_chars:
            return PromptTooLong(length=len(text), limit=self.max_chars)
        return attrs.evolve(account, prompt=text or None)

    def reset(self, account: Account) -> Account:
        return attrs.evolve(account, prompt=None)
