"""Voice, pictures, files and /image through the Telegram entrypoint (``serve``) on a real
TelegramClient whose network is the fake Telegram: real MessageMediaDocument and
MessageMediaPhoto objects, downloaded through Telethon's download path; real speech and a real
PNG. Alice's client speaks Russian, so the bot's own texts are Russian."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock
from telethon.tl import functions, types

from entrypoints.telegram import serve
from tests.adapters.messengers.telegram.fakes import ALICE, FakeTelegram, incoming, until
from tests.e2e.test_telegram import ADMIN, settings_for
from tests.media import png_bytes, speech_ogg
from tests.servers.openai_media import MediaServer

pytestmark = pytest.mark.slow  # a whole bot through its entrypoint, with media servers

QUESTION = "what is the capital of France"
_CHARGED = re.compile(r"(?:Израсходовано токенов: |\(\d+ с, )≈?(\d[\d ]*)")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speech_ogg(QUESTION, tmp_path_factory.mktemp("speech") / "q.ogg").read_bytes()


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    with MediaServer.running() as server:
        yield server


def texts(tg: FakeTelegram) -> list[str]:
    return [m.message for m in tg.shown(ALICE.id)]


async def stop(tg: FakeTelegram, bot: asyncio.Task[int], tmp_path: Path) -> dict[str, object]:
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=999))
    assert await asyncio.wait_for(bot, 10) == 0
    alice: dict[str, object] = json.loads((tmp_path / "data.json").read_text())[str(ALICE.id)]
    return alice


def shown_charges(tg: FakeTelegram) -> int:
    return sum(int(m.group(1).replace(" ", "")) for t in texts(tg) for m in _CHARGED.finditer(t))


async def test_voice_photo_file_and_image_offline(tmp_path: Path, speech: bytes) -> None:
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the start notice")

    await tg.receive(incoming("", media=tg.voice(speech, duration=2), message_id=1))
    await until(lambda: len(texts(tg)) >= 2, "the transcript and its answer")
    assert texts(tg)[0].startswith("🎤 «(offline transcriber: a 1.")
    assert "(2 с, 20 токенов)" in texts(tg)[0]
    assert "You said: «(offline transcriber" in texts(tg)[1]

    picture = png_bytes(64, 48)
    await tg.receive(incoming("что это?", media=tg.photo(picture, 64, 48), message_id=2))
    await until(lambda: len(texts(tg)) >= 3, "the answer to the photo")
    assert "I received 1 picture(s): image/png 64×48" in texts(tg)[2]

    notes = b"# Shopping\n- milk\n"
    await tg.receive(
        incoming("", media=tg.document(notes, "notes.md", "text/markdown"), message_id=3)
    )
    await until(lambda: len(texts(tg)) >= 4, "the answer to the file")
    assert "[File: notes.md] # Shopping - milk" in texts(tg)[3]

    await tg.receive(incoming("/image a red fox", message_id=4))
    await until(lambda: tg.of(functions.messages.SendMediaRequest), "the picture")
    [sent] = tg.of(functions.messages.SendMediaRequest)
    assert isinstance(sent.media, types.InputMediaUploadedPhoto)
    assert sent.message.startswith("a red fox\n\nИзрасходовано токенов: 5 000")
    assert sent.reply_to.reply_to_msg_id == 4  # a reply to the request, in private too

    alice = await stop(tg, bot, tmp_path)
    spent = shown_charges(tg)  # the picture's caption included
    assert alice["tokens"] == spent
    assert alice["balance"] == 30_000 - spent
    assert alice["requests"] == 5  # the transcript, three answers, the picture


async def test_a_voice_note_transcribed_by_a_server_and_answered_by_another(
    tmp_path: Path, speech: bytes, llm: LLMock, media_server: MediaServer
) -> None:
    media_server.say(QUESTION)
    llm.reply("Paris.")
    settings = settings_for(
        tmp_path,
        OPENAI_API_KEY="sk-test-telegram-media-0123",
        OPENAI_BASE_URL=llm.base_url("openai"),
        MODEL_CONTEXT_WINDOW="128000",  # a proxy reports none: 4 096 would be assumed
        TRANSCRIPTION_BASE_URL=media_server.base_url,
        OPENAI_MAX_RETRIES="0",
    )
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings, tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the start notice")
    await tg.receive(incoming("", media=tg.voice(speech, duration=2), message_id=1))
    await until(lambda: any("Paris." in t for t in texts(tg)), "the answer")
    upload = media_server.received[-1].files["file"]
    assert upload.data == speech  # downloaded whole through Telethon, sent as it came
    assert (upload.name, upload.mime) == ("voice.ogg", "audio/ogg")
    assert texts(tg)[0] == f"🎤 «{QUESTION}»\n(2 с, 20 токенов)"
    assert llm.last_request.body["messages"][-1] == {"role": "user", "content": QUESTION}

    media_server.fail(429, code="rate_limit_exceeded")
    await tg.receive(incoming("", media=tg.voice(speech, duration=2), message_id=2))
    await until(lambda: len(texts(tg)) >= 3, "the failure")
    assert texts(tg)[2].startswith("Не удалось расшифровать запись.")
    alice = await stop(tg, bot, tmp_path)
    assert alice["balance"] == 30_000 - shown_charges(tg)
    assert alice["requests"] == 2
