"""The bytes behind an attachment (``core.ports.MediaSource``'s work on Telegram).

An attachment's ``ref`` is its message id. The messages that came with media lately are kept
(``remember``), so the first fetch, right after the message came, needs no request but the
download; a later fetch (a picture earlier in a thread) asks Telegram for the message again,
which also renews its file reference. Downloads go through Telethon's own ``download_media``
into a buffer that refuses to grow past the limit asked for.

Telegram limits downloads per account, not per chat: a FloodWait on one is kept here for every
download (and taken out of Telethon's client-wide memory, which would otherwise refuse them
with our clock unaware), waited out while the fetch may still wait.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, errors
from telethon.tl import functions, types

from adapters.messengers.telegram.attachments import file_size, has_file, largest_size
from adapters.messengers.telegram.flood import forget_flood
from adapters.messengers.telegram.writer import FLOODS
from core.errors import MediaTooLarge, MediaUnavailable
from core.values import Attachment

log = logging.getLogger(__name__)

MAX_WAIT = 120.0  # seconds a fetch may wait out download FloodWaits: a person is waiting
_KEPT = 1_000  # messages with media remembered
_TRIES = 5  # downloads tried for one fetch (floods, a renewed file reference)
_EXPIRED = (
    errors.FileReferenceExpiredError,
    errors.FileReferenceInvalidError,
    errors.FilerefUpgradeNeededError,
)


class TelegramMedia:
    """Fetches the media of a chat's messages by id. ``lookup(chat_id, message_id)`` is the
    message as Telegram has it now, or None (``TelegramSink.fetch``)."""

    def __init__(
        self,
        client: TelegramClient,
        lookup: Callable[[int, int], Awaitable[Any]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = MAX_WAIT,
        kept: int = _KEPT,
    ) -> None:
        self._client = client
        self._lookup = lookup
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._kept = kept
        self._messages: collections.OrderedDict[tuple[int, int], Any] = collections.OrderedDict()
        self._quiet_until = 0.0  # no download before this (clock time): Telegram said wait

    def remember(self, chat_id: int, message: Any) -> None:
        """A message with media, just seen: its first fetch needs no request."""
        if not has_file(message.media):
            return
        key = (chat_id, int(message.id))
        self._messages[key] = message
        self._messages.move_to_end(key)
        while len(self._messages) > self._kept:
            self._messages.popitem(last=False)

    async def fetch(self, chat_id: int, attachment: Attachment, limit: int) -> bytes:
        """The attachment's bytes. Raises ``MediaTooLarge`` (before any download when the size
        is known), ``MediaUnavailable`` when the message or its file is gone."""
        if attachment.size is not None and attachment.size > limit:
            raise MediaTooLarge(f"{attachment.size} bytes, more than {limit}")
        try:
            message_id = int(attachment.ref)
        except ValueError as exc:
            raise MediaUnavailable(f"{attachment.ref!r} is no Telegram message id") from exc
        deadline = self._clock() + self._max_wait
        message = self._messages.get((chat_id, message_id))
        for _ in range(_TRIES):
            if message is None:
                message = await self._message(chat_id, message_id)
            size = file_size(message.media)
            if size is not None and size > limit:
                raise MediaTooLarge(f"{size} bytes, more than {limit}")
            await self._wait_quiet(deadline)
            try:
                return await self._download(message, limit)
            except _EXPIRED as exc:  # the file reference is old: the message has a new one
                log.info("chat %s: message %s needs a new file reference", chat_id, message_id)
                self._messages.pop((chat_id, message_id), None)
                message = None
                last: BaseException = exc
            except FLOODS as exc:
                seconds = float(getattr(exc, "seconds", 1) or 1)
                log.info("downloads: Telegram asks to wait %s s", seconds)
                forget_flood(self._client, functions.upload.GetFileRequest)
                self._quiet_until = max(self._quiet_until, self._clock() + seconds)
                last = exc
            except (errors.RPCError, ValueError, OSError, ConnectionError) as exc:
                raise MediaUnavailable(f"message {message_id}: {exc!r}") from exc
        raise MediaUnavailable(f"message {message_id}: {last!r}") from last

    async def _message(self, chat_id: int, message_id: int) -> Any:
        message = await self._lookup(chat_id, message_id)
        if message is None or not has_file(message.media):
            raise MediaUnavailable(f"message {message_id} of chat {chat_id} has no media now")
        self.remember(chat_id, message)
        return message

    async def _wait_quiet(self, deadline: float) -> None:
        wait = self._quiet_until - self._clock()
        if wait <= 0:
            return
        if self._clock() + wait > deadline:
            raise MediaUnavailable(f"Telegram asks to wait {wait:.0f} s more for downloads")
        await self._sleep(wait)

    async def _download(self, message: Any, limit: int) -> bytes:
        into = _Capped(limit)
        media = message.media
        # A photo: the size described to the core and checked above, not whatever is largest.
        # Asked for by its type: Telethon takes a PhotoSizeProgressive object for no size at all.
        largest = largest_size(media.photo) if isinstance(media, types.MessageMediaPhoto) else None
        thumb = None if largest is None else largest.type
        done = await self._client.download_media(message, file=into, thumb=thumb)
        if done is None:
            raise MediaUnavailable(f"message {message.id} has nothing to download")
        return bytes(into.data)


class _Capped:
    """A file Telethon writes a download into, refusing more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        if len(self.data) + len(chunk) > self.limit:
            raise MediaTooLarge(f"more than {self.limit} bytes arrived")
        self.data += chunk
        return len(chunk)

    def tell(self) -> int:
        return len(self.data)
