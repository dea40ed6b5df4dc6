"""The console bot on the OpenAI adapter against a real OpenAI-compatible server (LLMock)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

from entrypoints.console import run_console
from entrypoints.settings import settings_from

pytestmark = pytest.mark.slow  # the console bot in subprocesses against a real server

KEY = "sk-test-console-0123456789"


class Recorder(io.StringIO):
    """Standard output that remembers every separate write, to see streaming happen."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


# For the cases about a server too slow: short enough to keep them quick; the answer after
# the timeout still has to come within them (6 s; it once did not, at a load of 11 on 2 cores).
QUICK_TIMEOUTS = {
    "OPENAI_TIMEOUT": "6",
    "OPENAI_STALL_TIMEOUT": "2",
    "OPENAI_FIRST_TOKEN_TIMEOUT": "6",
}


async def run(tmp_path: Path, llm: LLMock, script: str, **env: str) -> Recorder:
    settings = settings_from(
        {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": llm.base_url("openai"),
            "OPENAI_MAX_RETRIES": "0",
            # Long: a loaded machine (several test runs on two cores) must not time out the
            # answers that should come. The timeout cases shorten them (QUICK_TIMEOUTS).
            "OPENAI_TIMEOUT": "30",
            "OPENAI_STALL_TIMEOUT": "15",
            "OPENAI_FIRST_TOKEN_TIMEOUT": "30",
            # A proxy on another host reports no window: without this, 4 096 is assumed.
            "MODEL_CONTEXT_WINDOW": "128000",
            "ADMIN_CHAT_ID": "1",
            **env,
        },
        tmp_path,
    )
    out = Recorder()
    assert await run_console(settings, io.StringIO(script), out) == 0
    return out


def user(tmp_path: Path, user_id: str = "100") -> dict[str, int]:
    entry: dict[str, int] = json.loads((tmp_path / "data.json").read_text())[user_id]
    return entry


async def test_streamed_answer_is_charged_the_reported_usage(tmp_path: Path, llm: LLMock) -> None:
    answer = "Paris is the capital of France."
    llm.reply(answer)
    out = await run(tmp_path, llm, "What is the capital of France?\n")
    assert "model gpt-6-luna at http://127.0.0.1" in out.getvalue()
    deltas = [w for w in out.writes if w.strip() and w.strip() in answer]
    assert len(deltas) >= 3  # the answer arrived in pieces, as the server streamed it
    body = llm.last_request.body
    prompt = sum(len(m["content"]) // 4 for m in body["messages"])
    reported = prompt + len(answer) // 4  # LLMock's own count, not our estimate
    assert f"Tokens used: {reported}" in out.getvalue()
    assert user(tmp_path)["tokens"] == reported
    assert user(tmp_path)["balance"] == 30_000 - reported
    assert body["messages"][0] == {"role": "system", "content": "You are a helpful assistant"}
    assert body["max_tokens"] == 3_000


@pytest.mark.parametrize(
    ("fault", "english", "russian"),
    [
        (lambda llm: llm.rate_limit(retry_after=0.01), "overloaded", "перегружен"),
        (lambda llm: llm.fail(500), "had an error", "произошла ошибка"),
        (lambda llm: llm.fail(401, message=f"Bad key {KEY}"), "key was rejected", "ключ отклонён"),
        (lambda llm: llm.delay(8), "took too long", "слишком долго"),
        (lambda llm: llm.stall(after_chunks=2, seconds=4), "took too long", "слишком долго"),
        (lambda llm: llm.disconnect(after_chunks=2), "connection", "Связь"),
        (lambda llm: llm.truncate(after_chunks=2), "cut off", "оборвался"),
        (lambda llm: llm.context_overflow(), "too long for the model", "слишком длинное"),
        (lambda llm: llm.fail(400, code="content_filter", message="no"), "filter", "Фильтр"),
    ],
)
@pytest.mark.parametrize("language", ["en", "ru"])
async def test_each_failure_is_explained_free_and_the_next_request_works(
    tmp_path: Path, llm: LLMock, fault: object, english: str, russian: str, language: str
) -> None:
    fault(llm)  # type: ignore[operator]
    timeouts = QUICK_TIMEOUTS if english == "took too long" else {}
    out = await run(tmp_path, llm, f":lang {language}\nhello\nhello again\n", **timeouts)
    text = out.getvalue()
    assert (english if language == "en" else russian) in text
    assert ("Nothing was charged" if language == "en" else "Ничего не списано") in text
    after = text.split("hello again\n", 1)[1]  # the answer to the next request
    assert "gpt-6-luna" in after  # LLMock's own answer names the model it was asked for
    assert ("Tokens used:" if language == "en" else "Израсходовано токенов:") in after
    assert KEY not in text
    charged = user(tmp_path)
    assert charged["requests"] == 1  # only the answer that succeeded counts
    assert charged["balance"] == 30_000 - charged["tokens"]


async def test_auth_failure_tells_the_admin_without_the_key(tmp_path: Path, llm: LLMock) -> None:
    llm.fail(401, times=2, message=f"Incorrect API key provided: {KEY}")
    out = await run(tmp_path, llm, "hello\nhello\n")
    to_admin = re.findall(r"^\[\d+\] bot → user 1: (.*)$", out.getvalue(), re.MULTILINE)
    assert len(to_admin) == 2  # the new user, and the key once (not once per message)
    assert "rejected the API key" in to_admin[1]
    assert KEY not in out.getvalue()


async def test_server_without_usage_is_charged_an_estimate(tmp_path: Path, llm: LLMock) -> None:
    answer = "An answer whose usage never arrives."
    llm.reply(answer).truncate(after_chunks=len(answer.split()) + 2)  # cut after the finish
    out = await run(tmp_path, llm, "hello\n")
    assert answer in out.getvalue()
    charged = user(tmp_path)
    assert charged["requests"] == 1
    assert charged["tokens"] > 0
    assert charged["balance"] == 30_000 - charged["tokens"]


async def test_thread_too_long_for_the_context_is_trimmed(tmp_path: Path, llm: LLMock) -> None:
    long = "word " * 120
    out = await run(tmp_path, llm, f"{long}\n")
    first = int(re.findall(r"^\[(\d+)\] bot", out.getvalue(), re.MULTILINE)[-1])
    out = await run(tmp_path, llm, f">{first} {long} again\n")
    second = int(re.findall(r"^\[(\d+)\] bot", out.getvalue(), re.MULTILINE)[-1])
    llm.limits(context_window=200)  # the whole thread no longer fits the model
    out = await run(tmp_path, llm, f">{second} and the last question\n")
    assert "Tokens used:" in out.getvalue()  # answered, after the retry
    assert user(tmp_path)["requests"] == 3
    attempts = [
        r.body["messages"]
        for r in llm.requests
        if r.body["messages"][-1]["content"] == "and the last question"
    ]
    assert len(attempts) == 2
    assert len(attempts[1]) < len(attempts[0])
    assert attempts[1][0]["role"] == "system"
