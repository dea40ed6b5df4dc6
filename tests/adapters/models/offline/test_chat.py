"""The offline model's usage is its own count, so it says it is an estimate."""

from __future__ import annotations

from adapters.models.offline.chat import OfflineModel
from core.ports import ChatModel
from core.tokens import CharTokenCounter, prompt_tokens
from core.values import ModelRequest, Role, Turn, Usage


async def test_usage_is_marked_as_an_estimate_and_close_is_there() -> None:
    counter = CharTokenCounter()
    model = OfflineModel(counter)
    port: ChatModel = model  # mypy checks that it fits the port
    request = ModelRequest(turns=(Turn(Role.USER, "hello"),), max_tokens=500)
    chunks = [chunk async for chunk in port.stream(request)]
    await model.close()

    answer = "".join(c.text for c in chunks)
    assert chunks[-1].usage == Usage(
        prompt_tokens(counter, request.turns), counter.count(answer), estimated=True
    )
