"""The window a server reports of itself, asked as the bot asks it at start-up."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from adapters.models.openai.server_facts import reported_window
from tests.adapters.models.openai.llama_server import llama_server


@pytest.mark.parametrize(
    ("reports", "window", "asked"),
    [
        ("llama.cpp", 4_096, ["/props"]),
        # vLLM has no /props; its model list says max_model_len.
        ("vllm", 4_096, ["/props", "/v1/models"]),
        # llama.cpp's own list says only the trained window: not the one it runs with.
        ("nothing", None, ["/props", "/v1/models"]),
    ],
)
async def test_a_server_says_its_window(reports: str, window: int | None, asked: list[str]) -> None:
    async with llama_server(n_ctx=4_096, reports=reports) as server:
        assert await reported_window(server.base_url, "key", "any-name") == window
    assert server.asked == asked


async def test_llama_cpps_model_list_is_not_taken_for_its_window() -> None:
    async with llama_server(n_ctx=4_096, reports="llama.cpp") as server:
        server.reports = "llama.cpp-without-props"  # /props gone: only the list is left
        assert await reported_window(server.base_url, "key", "any-name") is None


def served(routes: dict[str, Any]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = routes.get(request.url.path)
        return httpx.Response(404) if body is None else httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("routes", "window"),
    [
        ({"/api/props": {"n_ctx": 2_048}}, 2_048),  # older llama.cpp builds
        ({"/api/props": {"default_generation_settings": {"n_ctx": True}}}, None),
        ({"/api/props": {"default_generation_settings": {"n_ctx": -1}}}, None),
        ({"/api/props": ["not", "an", "object"]}, None),
        # OpenRouter lists many models, each with its context_length: the one named is taken.
        (
            {
                "/api/v1/models": {
                    "data": [
                        {"id": "other/model", "context_length": 8_192},
                        {"id": "meta/llama", "context_length": 131_072},
                    ]
                }
            },
            131_072,
        ),
        # Many models and none by this name: nothing to say.
        ({"/api/v1/models": {"data": [{"id": "a", "max_model_len": 1}, {"id": "b"}]}}, None),
    ],
)
async def test_what_is_believed_of_a_servers_answer(
    routes: dict[str, Any], window: int | None
) -> None:
    base = "https://router.test/api/v1"
    found = await reported_window(base, None, "meta/llama", transport=served(routes))
    assert found == window


async def test_a_server_that_is_not_there_reports_nothing() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert await reported_window(f"http://127.0.0.1:{port}/v1", "key", "m") is None


async def test_the_key_goes_with_the_question() -> None:
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"n_ctx": 8_192})

    transport = httpx.MockTransport(handle)
    assert await reported_window("http://x.test/v1", "sk-1", "m", transport=transport) == 8_192
    assert seen == ["Bearer sk-1"]
