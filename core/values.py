"""Plain domain values, shared by the core and the ports."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import attrs


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@attrs.frozen
class Turn:
    """One message of the conversation sent to the model."""

    role: Role
    text: str


@attrs.frozen
class Usage:
    """Tokens a model call really used, as the model reported them (or an honest estimate)."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class ModelRequest:
    """What the core asks of the chat model: the turns (system first) and the reply cap."""

    turns: tuple[Turn, ...]
    max_tokens: int


@attrs.frozen
class Chunk:
    """A piece of a streamed answer: some text; at the end the usage, and whether the answer
    stopped because it reached the reply cap (``cut_off``) rather than because it was done."""

    text: str = ""
    usage: Usage | None = None
    cut_off: bool = False


@attrs.frozen
class Sender:
    """Who wrote an incoming message, as the platform tells it."""

    id: int
    name: str | None = None
    username: str | None = None
    language: str | None = None


@attrs.frozen
class Incoming:
    """A message from a platform, reduced to what the core needs.

    ``addressed`` is the platform's verdict that the message is meant for the bot (a mention of
    the bot, a command for it, a reply to one of its messages); in private chats every message is.
    """

    chat_id: int
    message_id: int
    sender: Sender
    text: str
    reply_to: int | None = None
    private: bool = True
    addressed: bool = False


@attrs.frozen
class Node:
    """A message the bot acted on or sent: one link of a reply chain."""

    chat_id: int
    message_id: int
    role: Role
    text: str
    parent: int | None = None


@attrs.frozen
class Account:
    """One user's record: balance, statistics and their own system prompt."""

    user_id: int
    balance: int
    requests: int = 0
    tokens: int = 0
    name: str | None = None
    username: str | None = None
    last_request: dt.datetime | None = None
    prompt: str | None = None
    banned: bool = False  # the older bot's "blacklist": true

    @classmethod
    def new(cls, sender: Sender, balance: int) -> Account:
        return cls(
            user_id=sender.id,
            balance=balance,
            name=sender.name,
            username=sender.username,
        )


@attrs.frozen
class Totals:
    """Global statistics over all users."""

    requests: int = 0
    tokens: int = 0
