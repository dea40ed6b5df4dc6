"""The Telegram bot's entrypoint on the fake Telegram, its model a real OpenAI-compatible server
(LLMock) that fails once: the "Try again" button under the failure answers again, and every
charge shown is the charge saved."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock
from telethon.tl import functions

from entrypoints.telegram import serve
from tests.adapters.messengers.telegram.fakes import ALICE, FakeTelegram, incoming, until
from tests.e2e.test_telegram import ADMIN, settings_for

pytestmark = pytest.mark.slow  # a whole bot through its entrypoint

FOOTER = re.compile(r"Израсходовано токенов: (\d+)")  # Alice's client speaks Russian


async def test_the_button_under_a_failed_answer_answers_again(tmp_path: Path, llm: LLMock) -> None:
    llm.fail(503, times=1)
    llm.reply("Four.")
    settings = settings_for(
        tmp_path,
        OPENAI_API_KEY="sk-test-retry-0123456789",
        OPENAI_BASE_URL=llm.base_url("openai"),
        OPENAI_MAX_RETRIES="0",
        MODEL_CONTEXT_WINDOW="128000",
    )
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings, tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the start notice to the admin")

    await tg.receive(incoming("What is 2+2?", message_id=7))
    await until(lambda: tg.shown(ALICE.id), "the failure")
    [failed] = tg.shown(ALICE.id)
    assert failed.reply_markup is not None
    await tg.press(failed)
    await until(lambda: len(tg.shown(ALICE.id)) == 2, "the answer again")
    answer = tg.shown(ALICE.id)[1]
    assert answer.message.startswith("Four.")
    assert answer.reply_to.reply_to_msg_id == 7
    assert tg.of(functions.messages.SetBotCallbackAnswerRequest)
    assert len(llm.requests) == 2

    await tg.receive(incoming("/stop", sender=ADMIN, message_id=8))
    assert await asyncio.wait_for(bot, 10) == 0
    shown = [int(n) for m in tg.shown(ALICE.id) for n in FOOTER.findall(m.message)]
    alice = json.loads((tmp_path / "data.json").read_text())[str(ALICE.id)]
    assert len(shown) == 1
    assert (alice["tokens"], alice["balance"]) == (shown[0], 30_000 - shown[0])
