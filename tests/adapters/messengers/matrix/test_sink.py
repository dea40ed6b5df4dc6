"""The sink's pacing against a homeserver that rate-limits one room: that room waits the time
the server asks, and no other room waits with it."""

from __future__ import annotations

import asyncio

import nio

from adapters.messengers.matrix.sink import MatrixSink, client_config
from tests.adapters.messengers.matrix.homeserver import Homeserver

TIMEOUT = 60.0  # never reached when the test passes
SLOW, FAST = "!slow:localhost", "!fast:localhost"


async def test_a_rate_limited_room_never_holds_another() -> None:
    async with Homeserver.running(limited_rooms={SLOW}) as server:
        client = nio.AsyncClient(server.url, "@bot:localhost", config=client_config())
        client.restore_login("@bot:localhost", "DEVICE", "token")
        sink = MatrixSink(client, edit_interval=0)
        try:
            # The slow room's answer must wait an hour: it is refused, and waits.
            waiting = asyncio.create_task(sink.send(SLOW, "the final answer"))
            await asyncio.wait_for(server.refused.wait(), TIMEOUT)
            # Meanwhile another room is served at once...
            sent = await asyncio.wait_for(sink.send(FAST, "hello"), TIMEOUT)
            assert sent == ["$2"]
            # ...and an interim edit for the waiting room is dropped, not queued or sent.
            tried = len(server.sends)
            assert await sink.post(SLOW, {"msgtype": "m.text", "body": "..."}, interim=True) == ""
            assert len(server.sends) == tried
            assert not waiting.done()
            waiting.cancel()
        finally:
            await client.close()
