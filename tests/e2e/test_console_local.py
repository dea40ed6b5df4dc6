"""The console on the README's recipe for a small local model, against a server that behaves as
llama.cpp's does (tests/adapters/models/openai/llama_server.py): a 4 096-token window, an
overflow answered by an empty 200 stream, its window told by ``/props`` (or vLLM's model list).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.models.openai.tokens import token_counter_for
from entrypoints.console import run_console
from entrypoints.settings import settings_from
from tests.adapters.models.openai.llama_server import LlamaServer, llama_server, server_tokens

# Long words that OpenAI's tokenizer counts one token each and the server's three or four: the
# bot's estimate fits the prompt budget, the server's count overflows its window.
WORDS = ["international", "development", "information", "government", "environment"]


def recipe(server: LlamaServer) -> dict[str, str]:
    """The README's llama.cpp lines, and nothing else about the model."""
    return {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "anything"}


async def console(tmp_path: Path, script: str, env: dict[str, str]) -> str:
    settings = settings_from(
        {"ADMIN_CHAT_ID": "1", "OPENAI_MAX_RETRIES": "0", "OPENAI_TIMEOUT": "10", **env},
        tmp_path,
    )
    out = io.StringIO()
    assert await run_console(settings, io.StringIO(script), out) == 0
    return out.getvalue()


def dense_file(tmp_path: Path, server_count: int) -> Path:
    """A text file of about ``server_count`` of the server's tokens."""
    words: list[str] = []
    while server_tokens(" ".join(words)) < server_count:
        words.append(WORDS[len(words) % len(WORDS)])
    path = tmp_path / "report.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    return path


@pytest.mark.parametrize("reports", ["llama.cpp", "vllm", "nothing"])
async def test_an_over_long_file_is_too_long_for_the_model_not_try_again(
    tmp_path: Path, reports: str
) -> None:
    async with llama_server(n_ctx=4_096, reports=reports) as server:
        report = dense_file(tmp_path, 4_400)
        # The bot's own count (gpt-6-luna's tokenizer) fits the 3 072-token prompt budget.
        assert token_counter_for("gpt-6-luna").count(report.read_text()) < 2_500
        out = await console(tmp_path, f":file {report}\n", recipe(server))

    assert "too long for the model" in out
    assert "try again" not in out.lower()
    assert len(server.requests) == 1  # a new conversation: nothing older to leave out
    # Fitted in 4 096 tokens whatever the server said: 1 024 of reply.
    assert server.requests[0]["max_tokens"] == 1_024


async def test_a_file_over_the_learned_budget_is_refused_before_sending(tmp_path: Path) -> None:
    async with llama_server(n_ctx=4_096) as server:
        report = dense_file(tmp_path, 20_000)
        out = await console(tmp_path, f":file {report}\n", recipe(server))

    assert "too long" in out
    assert "the limit is 3" in out  # 3 072 of prompt in a 4 096-token window
    assert server.requests == []


async def test_a_window_set_too_high_is_told_too_long_not_try_again(tmp_path: Path) -> None:
    async with llama_server(n_ctx=4_096) as server:
        report = dense_file(tmp_path, 8_000)
        env = {**recipe(server), "MODEL_CONTEXT_WINDOW": "32768"}
        out = await console(tmp_path, f":file {report}\n", env)

    assert server.asked == []  # the operator's window is taken as said
    assert "too long for the model" in out
    assert "try again" not in out.lower()


async def test_a_long_conversation_is_shortened_and_answered(tmp_path: Path) -> None:
    async with llama_server(n_ctx=4_096) as server:
        report = dense_file(tmp_path, 2_500)
        # Two long turns fit the bot's estimate but not the server's window together: the
        # older one is left out and the answer comes.
        out = await console(tmp_path, f":file {report}\n>3 :file {report} again\n", recipe(server))
        first, overflowed, retried = server.requests
    assert out.count("Hello there, how can I help?") == 2
    assert len(first["messages"]) == 2  # the system prompt and the file
    assert len(overflowed["messages"]) == 4  # and the first exchange
    assert len(retried["messages"]) == 2  # the first exchange left out on the retry
    assert "oldest messages of this conversation were left out" in out


async def test_a_server_killed_mid_answer_leaves_the_text_shown(tmp_path: Path) -> None:
    async with llama_server(die_after=3) as server:
        out = await console(tmp_path, "hello\n", recipe(server))

    # The message ends as it was being read, the error below it.
    assert "bot → user 100: Hello there, how\n\n(The model's answer was cut off" in out
    assert "Nothing was charged" in out.rsplit("Hello there, how", 1)[-1]


async def test_a_models_entry_with_a_window_is_held_to_it(tmp_path: Path) -> None:
    async with llama_server(n_ctx=4_096) as server:
        env = {
            "MODELS": f"gpt-6-luna window=4096 base_url={server.base_url} api_key=none",
            "OPENAI_API_KEY": "",
        }
        big = dense_file(tmp_path, 20_000)
        out = await console(tmp_path, f":file {big}\n", env)
        assert "the limit is 3" in out  # refused before sending: 3 072 of prompt
        assert server.requests == []

        over = dense_file(tmp_path, 4_400)  # fits the bot's count, not the server's
        out = await console(tmp_path, f":file {over}\n", env)

    assert server.asked == []
    assert server.requests[0]["max_tokens"] == 1_024
    assert "too long for the model" in out
    assert "try again" not in out.lower()


@pytest.mark.parametrize(
    ("reports", "cap"), [("llama.cpp", 3_000), ("vllm", 3_000), ("nothing", 1_024)]
)
async def test_the_window_a_server_reports_is_the_one_fitted(
    tmp_path: Path, reports: str, cap: int
) -> None:
    async with llama_server(n_ctx=16_384, reports=reports) as server:
        out = await console(tmp_path, "hello\n", recipe(server))
    assert "Hello there, how can I help?" in out
    # 16 384 tokens hold the whole reply cap; 4 096, assumed when nothing is said, a quarter.
    assert server.requests[0]["max_tokens"] == cap


async def test_the_console_prints_the_reasoning_apart_and_never_sends_it_back(
    tmp_path: Path,
) -> None:
    async with llama_server(reasoning="Greet them back.") as server:
        out = await console(tmp_path, "hello\n>3 and again\n", recipe(server))
        _, second = server.requests
    assert "[3] bot → user 100: 💭 Greet them back.\nHello there, how can I help?" in out
    assert [m["content"] for m in second["messages"]][-2:] == [
        "Hello there, how can I help?",
        "and again",
    ]
