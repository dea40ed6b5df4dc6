"""Albums: Telegram delivers the pictures (or files) a person sent together as separate messages
sharing a ``grouped_id``, the caption on one of them. The core is handed one message: the
first part's, with every part's attachment and the caption, once no part has come for a moment.

In a group only the part that addresses the bot (its caption mentions it, or it replies to the
bot) passes the group rules; the other parts of its album join it all the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from adapters.messengers.telegram.attachments import describe
from adapters.messengers.telegram.incoming import Reading
from core.values import Attachment, Incoming

# Telegram sends an album's messages within a fraction of a second of each other.
ALBUM_WAIT = 0.6


@attrs.define
class Album:
    """The parts of one album seen so far; ``complete`` is set when no more are expected."""

    first: Reading
    attachments: list[Attachment]
    captions: list[str]
    complete: asyncio.Event = attrs.field(factory=asyncio.Event)
    timer: asyncio.Task[None] | None = None

    def reading(self) -> Reading:
        """The whole album as one message."""
        item = self.first.item
        assert isinstance(item, Incoming)
        text = next((caption for caption in self.captions if caption.strip()), item.text)
        merged = attrs.evolve(item, text=text, attachments=tuple(self.attachments))
        return attrs.evolve(self.first, item=merged)


class Albums:
    """The albums being received, by (chat, grouped_id)."""

    def __init__(self, wait: float = ALBUM_WAIT) -> None:
        self._wait = wait
        self._open: dict[tuple[int, int], Album] = {}

    def start(self, key: tuple[int, int], reading: Reading) -> Album | None:
        """A new album whose first part seen is ``reading``; None when ``reading`` is no
        message with an attachment for the core (a refusal stays a message of its own)."""
        item = reading.item
        if not isinstance(item, Incoming) or not item.attachments:
            return None
        album = Album(reading, list(item.attachments), [item.text])
        self._open[key] = album
        self._restart(key, album)
        return album

    def add(self, key: tuple[int, int], message: Any, reading: Reading | None) -> bool:
        """Add a part to an open album; False when there is none for ``key``. A part that the
        group rules passed over (``reading`` None) joins too, with its own caption's text."""
        album = self._open.get(key)
        if album is None:
            return False
        attachment = describe(int(message.id), message.media)
        if isinstance(attachment, Attachment):
            album.attachments.append(attachment)
        item = None if reading is None else reading.item
        album.captions.append(item.text if isinstance(item, Incoming) else "")
        self._restart(key, album)
        return True

    def _restart(self, key: tuple[int, int], album: Album) -> None:
        if album.timer is not None:
            album.timer.cancel()
        album.timer = asyncio.create_task(self._close_later(key, album))

    async def _close_later(self, key: tuple[int, int], album: Album) -> None:
        await asyncio.sleep(self._wait)
        if self._open.get(key) is album:
            del self._open[key]
        album.complete.set()


def grouped(message: Any) -> int | None:
    """The album a message belongs to, if any."""
    value = getattr(message, "grouped_id", None)
    return None if value is None else int(value)
