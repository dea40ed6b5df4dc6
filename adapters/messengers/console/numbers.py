"""The numbers the console shows for messages, and the ids the store keeps for them.

Every message gets an id from the store's point of view, unique across runs so that a shared
database never mixes two runs' reply chains (on PostgreSQL those are taken from the clock:
``1796329457959``, painful to type as ``>1796329457959``). The console shows such messages by
short numbers counted from 1 in each run, and reads ``>3`` back as the id of this run's
message 3. Where the ids are short already (SQLite's continue after the last one a previous
run remembered) they are shown as they are, so a reply to an earlier run's message still works.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import attrs


@attrs.define
class MessageNumbers:
    ids: Iterator[int]  # the store's ids, each used once
    short: bool = False  # True: show this run's messages as 1, 2, 3…
    _ids_of: dict[str, str] = attrs.field(factory=dict, init=False)  # number -> id
    _numbers_of: dict[str, str] = attrs.field(factory=dict, init=False)  # id -> number

    def new(self) -> str:
        """The id of a new message (typed or sent by the bot)."""
        message_id = str(next(self.ids))
        if self.short:
            number = str(len(self._ids_of) + 1)
            self._ids_of[number] = message_id
            self._numbers_of[message_id] = number
        return message_id

    def shown(self, message_id: str) -> str:
        """How the message ``message_id`` is shown: its number in this run."""
        return self._numbers_of.get(message_id, message_id)

    def message_id(self, typed: str) -> str:
        """The id of the message typed as ``>typed``: this run's number, or else an id typed
        whole (a message of an earlier run)."""
        return self._ids_of.get(typed, typed)


def numbering(start: int = 1) -> MessageNumbers:
    """Ids counted from ``start``, shown as they are."""
    return MessageNumbers(itertools.count(start))


def short_numbering(first_id: int) -> MessageNumbers:
    """Ids counted from ``first_id`` (large, to stay unique across runs), shown as 1, 2, 3…"""
    return MessageNumbers(itertools.count(first_id), short=True)
