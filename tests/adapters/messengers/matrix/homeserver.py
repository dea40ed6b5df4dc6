"""A small Matrix homeserver on 127.0.0.1 for the adapter's edge cases a real Synapse will not
produce on demand: one room rate-limited while another is not (Synapse limits a sender, not a
room), media that lies about its size, a content repository that asks to wait.

It answers the few client-server endpoints the sink and the media source use, in the shapes
the Matrix specification gives, and records what it was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
from aiohttp import web


@attrs.define
class Homeserver:
    limited_rooms: set[str] = attrs.field(factory=set)  # every send answered M_LIMIT_EXCEEDED
    retry_after_ms: int = 3_600_000
    media: dict[str, bytes] = attrs.field(factory=dict)  # media id -> bytes
    announce_length: bool = True  # False: the body is sent chunked, its size unsaid
    busy_downloads: int = 0  # downloads answered 429 before one is served
    authenticated_media: bool = True  # False: /_matrix/client/v1/media is unknown (older)
    sends: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)
    downloads: list[str] = attrs.field(factory=list)
    refused: asyncio.Event = attrs.field(factory=asyncio.Event)  # a send was rate-limited
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/_matrix/client/v3/rooms/{room}/send/{kind}/{txn}", self._send)
        app.router.add_get("/_matrix/client/v1/media/download/{server}/{media}", self._v1)
        app.router.add_get("/_matrix/media/v3/download/{server}/{media}", self._download)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        self.sends.append((room, await request.json()))
        if room in self.limited_rooms:
            self.refused.set()
            return web.json_response(
                {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests",
                 "retry_after_ms": self.retry_after_ms},
                status=429,
            )  # fmt: skip
        return web.json_response({"event_id": f"${len(self.sends)}"})

    async def _v1(self, request: web.Request) -> web.StreamResponse:
        if not self.authenticated_media:
            return web.json_response(
                {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, status=404
            )
        return await self._download(request)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.downloads.append(request.path)
        if self.busy_downloads:
            self.busy_downloads -= 1
            return web.json_response(
                {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1_500}, status=429
            )
        data = self.media.get(request.match_info["media"])
        if data is None:
            return web.json_response({"errcode": "M_NOT_FOUND"}, status=404)
        if self.announce_length:
            return web.Response(body=data, content_type="application/octet-stream")
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), 1_000):
            await response.write(data[start : start + 1_000])
        await response.write_eof()
        return response

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, **settings: Any) -> AsyncIterator[Homeserver]:
        server = cls(**settings)
        runner = web.AppRunner(server.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        server.url = f"http://127.0.0.1:{port}"
        try:
            yield server
        finally:
            await runner.cleanup()
