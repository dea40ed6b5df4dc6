"""The bytes behind an attachment (``core.ports.MediaSource``'s work on Matrix): a download from
the homeserver's content repository by the ``mxc://`` URI.

matrix-nio's ``download`` reads the whole body into memory (or onto disk) whatever its size, so
the download is made here, on aiohttp (nio's own transport) with the client's token: the size
the server announces (``Content-Length``) is refused before reading, and the body is read in
chunks that stop at the limit. The authenticated endpoint (``/_matrix/client/v1/media``, Matrix
1.11) is asked first; a homeserver that does not know it gets the older ``/_matrix/media/v3``.
A rate limit (429) is waited out while a person may still wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
import attrs

from core.errors import MediaTooLarge, MediaUnavailable
from core.values import Attachment

log = logging.getLogger(__name__)

MAX_WAIT = 60.0  # seconds a fetch may wait out the homeserver's rate limits: a person is waiting
CHUNK = 64 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=30, sock_read=60)
_PATHS = ("/_matrix/client/v1/media/download", "/_matrix/media/v3/download")


@attrs.define
class MatrixMedia:
    """Downloads from ``homeserver`` as the user of ``token()`` (read at each fetch: a password
    login sets it after this is made)."""

    homeserver: str
    token: Callable[[], str | None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    max_wait: float = MAX_WAIT
    _session: aiohttp.ClientSession | None = None

    async def fetch(self, chat_id: str, attachment: Attachment, limit: int) -> bytes:
        """The attachment's bytes. Raises ``MediaTooLarge`` (before any download when the event
        or the server says the size), ``MediaUnavailable`` when the file cannot be had."""
        if attachment.size is not None and attachment.size > limit:
            raise MediaTooLarge(f"{attachment.size} bytes, more than {limit}")
        server, _, media_id = attachment.ref.removeprefix("mxc://").partition("/")
        if not attachment.ref.startswith("mxc://") or not server or not media_id:
            raise MediaUnavailable(f"{attachment.ref!r} is no mxc:// URI")
        where = f"{quote(server, safe='')}/{quote(media_id, safe='')}"
        deadline = self.clock() + self.max_wait
        path = 0
        while True:
            url = f"{self.homeserver.rstrip('/')}{_PATHS[path]}/{where}"
            try:
                outcome = await self._download(url, limit)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise MediaUnavailable(f"{attachment.ref}: {exc!r}") from exc
            if isinstance(outcome, bytes):
                return outcome
            status, wait = outcome
            if status in {404, 405, 400} and path + 1 < len(_PATHS):
                path += 1  # an older homeserver: its unauthenticated endpoint
                continue
            if status == 429 and wait is not None and self.clock() + wait <= deadline:
                log.info("media downloads: the homeserver asks to wait %.1f s", wait)
                await self.sleep(wait)
                continue
            raise MediaUnavailable(f"{attachment.ref}: the homeserver answered {status}")

    async def _download(self, url: str, limit: int) -> bytes | tuple[int, float | None]:
        """The body, or the refusal's status and (for a rate limit) the seconds to wait."""
        headers = {}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self._open().get(url, headers=headers) as response:
            if response.status != 200:
                return response.status, await _retry_after(response)
            announced = response.content_length
            if announced is not None and announced > limit:
                raise MediaTooLarge(
                    f"the homeserver announces {announced} bytes, more than {limit}"
                )
            data = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                if len(data) + len(chunk) > limit:
                    raise MediaTooLarge(f"more than {limit} bytes arrived")
                data += chunk
            return bytes(data)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """For a 429, the seconds the homeserver asks to wait (1 when it does not say)."""
    if response.status != 429:
        return None
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return 1.0
    millis = body.get("retry_after_ms") if isinstance(body, dict) else None
    if isinstance(millis, int | float) and not isinstance(millis, bool) and millis >= 0:
        return float(millis) / 1_000
    return 1.0
