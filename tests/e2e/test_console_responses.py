"""The console bot on the Responses API adapter against the tests' own Responses server:
web search with sources, cached input charged less, and the charge shown is the one saved."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrypoints.console import run_console
from entrypoints.settings import settings_from
from tests.servers.openai_responses import ResponsesServer

pytestmark = pytest.mark.slow  # the console bot against a real server


@pytest.fixture(scope="module")
def server() -> Iterator[ResponsesServer]:
    with ResponsesServer.running() as running:
        yield running


async def run(tmp_path: Path, server: ResponsesServer, script: str) -> str:
    entry = f"gpt-6-luna base_url={server.base_url} api=responses tools=web_search window=128000"
    settings = settings_from(
        {
            "OPENAI_API_KEY": "sk-test-console",
            "MODELS": entry,
            "OPENAI_MAX_RETRIES": "0",
            "ADMIN_CHAT_ID": "1",
            "SEARCH_PRICE": "1000",
            "CACHED_INPUT_PRICE": "0.1",
        },
        tmp_path,
    )
    out = io.StringIO()
    assert await run_console(settings, io.StringIO(script), out) == 0
    return out.getvalue()


def saved(tmp_path: Path) -> dict[str, int]:
    entry: dict[str, int] = json.loads((tmp_path / "data.json").read_text())["100"]
    return entry


async def test_a_searched_answer_lists_its_sources_and_charges_what_it_shows(
    tmp_path: Path, server: ResponsesServer
) -> None:
    server.reset().answer(
        "Rome is the capital.",
        input_tokens=1200,
        cached=800,
        output_tokens=100,
        searches=2,
        citations=[("https://example.org/rome", "Rome")],
    )
    out = await run(tmp_path, server, "/search on\nWhat is the capital of Italy?\n")

    assert "Sources:\n1. [Rome](https://example.org/rome)" in out
    shown = re.search(r"Tokens used: 1 300 \(800 cached\) · charged: ([\d ]+)", out)
    assert shown is not None
    charged = int(shown.group(1).replace(" ", ""))
    assert charged == 400 + 80 + 100 + 2 * 1000
    assert "web searches: 2" in out
    assert saved(tmp_path)["tokens"] == charged
    assert saved(tmp_path)["balance"] == 30_000 - charged
    assert saved(tmp_path)["search"] is True
    body = server.received[-1]
    assert body["tools"] == [{"type": "web_search"}]
    assert body["store"] is False
    assert body["prompt_cache_key"]
