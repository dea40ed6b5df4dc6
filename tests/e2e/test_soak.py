"""A soak: thousands of messages to the real bot while the model server fails one in ten.

The bot runs on its real parts (core, JSON stores, OpenAI adapter) against LLMock on 127.0.0.1,
which injects every failure it can: 429, 500, 401, delays past the timeout, stalls mid-stream,
disconnects, cut streams, context overflow. The test then checks that nothing went astray: every
message got an answer or a clear refusal, failures cost nothing, balances and totals agree.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from llmock.pytest_plugin import LLMock

from core.values import Incoming, Sender
from entrypoints.bootstrap import build_bot
from entrypoints.settings import settings_from
from tests.fakes import RecordingSink

pytestmark = pytest.mark.slow  # a soak with faults

Fault = Callable[[LLMock], object]
# The bot's timeouts leave a healthy answer room on a loaded machine; a slow or stalled server
# stays silent well past them, so those faults are always felt as timeouts.
TIMEOUT, STALL_TIMEOUT, FAULT_SECONDS = 1.0, 0.6, 2.0
FAULTS: dict[str, Fault] = {
    "429": lambda llm: llm.rate_limit(retry_after=0.01),
    "500": lambda llm: llm.fail(500),
    "401": lambda llm: llm.fail(401),
    "slow": lambda llm: llm.delay(FAULT_SECONDS),
    "stall": lambda llm: llm.stall(after_chunks=2, seconds=FAULT_SECONDS),
    "disconnect": lambda llm: llm.disconnect(after_chunks=2),
    "cut": lambda llm: llm.truncate(after_chunks=2),
    "overflow": lambda llm: llm.context_overflow(),
}
USERS = 20
START = 30_000


@attrs.frozen
class SoakResult:
    messages: int
    answered: int
    refused: int
    faults: Counter[str]
    seconds: float


async def soak(llm: LLMock, folder: Path, messages: int, seed: int = 7) -> SoakResult:
    """Send ``messages`` messages from ``USERS`` users, five at a time, faults one in ten."""
    settings = settings_from(
        {
            "OPENAI_API_KEY": "sk-soak",
            "OPENAI_BASE_URL": llm.base_url("openai"),
            "MODEL_CONTEXT_WINDOW": "128000",  # a proxy reports none: 4 096 would be assumed
            "OPENAI_MAX_RETRIES": "0",
            "OPENAI_TIMEOUT": str(TIMEOUT),
            "OPENAI_STALL_TIMEOUT": str(STALL_TIMEOUT),
            "ADMIN_CHAT_ID": "1",
            "STARTING_BALANCE": str(START),
            "NOTIFY_ADMIN_NEW_USERS": "false",
        },
        folder,
    )
    sink = RecordingSink()
    bot = await build_bot(settings, admin_id="1", sink=sink)
    rng = random.Random(seed)
    faults: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    started = loop.time()
    for batch in range(0, messages, 5):
        for _ in range(5):
            if rng.random() < 0.1:
                kind = rng.choice(sorted(FAULTS))
                FAULTS[kind](llm)
                faults[kind] += 1
        await asyncio.gather(
            *(
                bot.service.handle(
                    Incoming(
                        chat_id=str(100 + (n % USERS)),
                        message_id=str(n + 1),
                        sender=Sender(str(100 + (n % USERS)), f"User {n % USERS}"),
                        text=f"question number {n}",
                    )
                )
                for n in range(batch, min(batch + 5, messages))
            )
        )
    seconds = loop.time() - started
    await bot.close()
    answers = [s for s in sink.sent if s.chat_id != "1"]
    answered = sum("Tokens used:" in s.text for s in answers)
    refused = sum("Nothing was charged" in s.text for s in answers)
    return SoakResult(messages, answered, refused, faults, seconds)


def verify(folder: Path, result: SoakResult) -> None:
    """Every message got a reply, failures were free, and the books balance."""
    assert sum(result.faults.values()) >= result.messages // 20
    assert result.answered + result.refused == result.messages
    assert result.refused >= sum(result.faults.values()) // 2  # the faults were felt...
    assert result.answered >= result.messages * 0.8  # ...and the bot kept going after each
    data = json.loads((folder / "data.json").read_text())
    users = {k: v for k, v in data.items() if k != "global"}
    assert len(users) == USERS
    assert sum(u["requests"] for u in users.values()) == result.answered
    assert data["global"]["requests"] == result.answered
    assert data["global"]["tokens"] == sum(u["tokens"] for u in users.values())
    for user in users.values():
        assert user["balance"] == START - user["tokens"]
        assert user["balance"] >= 0


async def test_soak_with_faults_keeps_every_account_consistent(tmp_path: Path, llm: LLMock) -> None:
    verify(tmp_path, await soak(llm, tmp_path, 400))
