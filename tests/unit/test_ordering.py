"""The core's per-key order, on its own: what the messengers that keep an order of their own
(Telegram's reading of a chat) rely on."""

from __future__ import annotations

import asyncio

from core.ordering import Sequencer


async def test_a_key_is_busy_while_a_job_of_it_waits_or_runs_and_forgotten_after() -> None:
    order = Sequencer()
    gate = asyncio.Event()
    ran: list[str] = []

    async def job(name: str) -> None:
        await gate.wait()
        ran.append(name)

    first = order.submit("chat", lambda: job("first"))
    second = order.submit("chat", lambda: job("second"))
    assert order.busy("chat")
    assert not order.busy("other chat")
    gate.set()
    await asyncio.gather(first, second)
    await order.idle()
    assert ran == ["first", "second"]
    assert not order.busy("chat")  # an idle key is forgotten
