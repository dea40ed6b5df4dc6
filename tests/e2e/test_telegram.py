"""The Telegram bot's entrypoint on a real TelegramClient whose network call is a fake Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path

import pytest
from telethon import utils
from telethon.tl import functions, types

from entrypoints.settings import ConfigError, Settings, settings_from
from entrypoints.telegram import main, serve
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    STICKER,
    FakeTelegram,
    incoming,
    until,
)
from tests.media import ESPEAK, OPUSENC, require

pytestmark = pytest.mark.slow  # a whole bot through its entrypoint

ADMIN = BOB


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return settings_from(
        {
            "TELEGRAM_API_KEY": "123:secret-token",
            "TELEGRAM_API_ID": "12345",
            "TELEGRAM_API_HASH": "0123456789abcdef0123456789abcdef",
            "ADMIN_CHAT_ID": str(ADMIN.id),
            "OFFLINE_MODEL_DELAY": "0",
            **env,
        },
        tmp_path,
    )


async def test_serves_answers_refuses_stop_to_users_and_stops_for_the_admin(
    tmp_path: Path,
) -> None:
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the start notice to the admin")
    assert "is running as @ThisBot" in tg.shown(ADMIN.id)[0].message
    menus = tg.of(functions.bots.SetBotCommandsRequest)
    assert {m.lang_code for m in menus} == {"", "ru"}
    assert [c.command for c in menus[0].commands] == [
        "start",
        "help",
        "balance",
        "stats",
        "prompt",
        "model",
        "mode",
        "retry",
        "image",
        "voice",
    ]

    await tg.receive(incoming("**hello** there", message_id=1))
    await until(lambda: any("Offline model" in m.message for m in tg.shown(ALICE.id)), "answer")
    await tg.receive(incoming("/stop", message_id=2))
    await until(lambda: any("администратор" in m.message for m in tg.shown(ALICE.id)), "refusal")
    assert not bot.done()

    await tg.receive(incoming("/stop", sender=ADMIN, message_id=3))
    assert await asyncio.wait_for(bot, 10) == 0
    data = json.loads((tmp_path / "data.json").read_text())
    alice = data[str(ALICE.id)]
    assert alice["requests"] == 1
    assert alice["balance"] == 30_000 - alice["tokens"]
    assert alice["name"] == "Alice Liddell"
    assert alice["username"] == "@alice"
    assert data["global"]["tokens"] == alice["tokens"]


async def test_a_spoken_answer_arrives_as_a_voice_note_after_its_text(tmp_path: Path) -> None:
    require(ESPEAK, OPUSENC)  # the offline speaker: a real OGG/Opus voice note
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "start")
    await tg.receive(incoming("/voice on", message_id=1))
    await tg.receive(incoming("hello there", message_id=2))
    await until(lambda: len(tg.shown(ALICE.id)) == 3, "the voice note")
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=3))
    assert await asyncio.wait_for(bot, 30) == 0
    _, text, voice = tg.shown(ALICE.id)
    assert "Offline model" in text.message
    assert voice.reply_to.reply_to_msg_id == text.id
    assert isinstance(voice.media, types.MessageMediaDocument)
    assert voice.media.voice is True
    [audio] = voice.media.document.attributes
    assert isinstance(audio, types.DocumentAttributeAudio)
    assert audio.voice is True
    assert audio.duration >= 1
    assert len(utils.decode_waveform(audio.waveform)) == 100
    # Every charge shown is the charge saved (Alice's client speaks Russian).
    shown = sum(
        int(m.replace(" ", "").lstrip("≈"))
        for message in (text, voice)
        for m in re.findall(r"Израсходовано токенов: (≈?[\d ]+\d)", message.message)
    )
    alice = json.loads((tmp_path / "data.json").read_text())[str(ALICE.id)]
    assert alice["voice"] is True
    assert alice["balance"] == 30_000 - shown
    assert alice["tokens"] == shown


async def test_a_sticker_gets_a_polite_answer_in_private(tmp_path: Path) -> None:
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "start")
    await tg.receive(incoming("", message_id=5, media=STICKER))
    await until(lambda: tg.shown(ALICE.id), "the answer to the sticker")
    assert "стикеры" in tg.shown(ALICE.id)[0].message  # Alice's client speaks Russian
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=6))
    assert await asyncio.wait_for(bot, 10) == 0


def test_missing_telegram_settings_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"TELEGRAM_API_KEY": "123:abc"}) == 2
    error = capsys.readouterr().err
    assert "TELEGRAM_API_ID, TELEGRAM_API_HASH, ADMIN_CHAT_ID" in error
    assert "123:abc" not in error


def test_a_malformed_api_id_is_named() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_API_ID must be a whole number"):
        settings_from({"TELEGRAM_API_ID": "x1"})


async def test_a_second_bot_on_the_same_data_is_refused_and_the_first_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tg = FakeTelegram()
    first = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the first bot's start notice")
    other = FakeTelegram()
    assert await serve(settings_for(tmp_path), other, handle_signals=False) == 2
    assert "in use by another running bot" in capsys.readouterr().err
    assert other.sent() == []  # it said nothing to anyone, not even "started"
    await tg.receive(incoming("hello", message_id=1))
    await until(lambda: any("Offline model" in m.message for m in tg.shown(ALICE.id)), "answer")
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=2))
    assert await asyncio.wait_for(first, 10) == 0
    assert json.loads((tmp_path / "data.json").read_text())[str(ALICE.id)]["requests"] == 1


async def test_a_message_after_stop_is_told_the_bot_is_shutting_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg = FakeTelegram()
    settings = settings_for(tmp_path, OFFLINE_MODEL_DELAY="0.2", STREAM_MODE="edit")
    bot = asyncio.create_task(serve(settings, tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "start")
    await tg.receive(incoming("tell me something long", message_id=1))  # still being answered
    await until(lambda: tg.shown(ALICE.id), "the answer's first words")
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=2))
    # The admin's chat also gets the new-user notice, in the background: wait for the reply.
    stopping = "Stopping: finishing the answers in flight"
    await until(lambda: any(stopping in m.message for m in tg.shown(ADMIN.id)), "stopping")
    # The bot has stopped taking messages (it logs so once it has), the answer is in flight.
    await until(lambda: "finishing the answers in flight" in caplog.text, "the stop taken")
    await tg.receive(incoming("are you there?", message_id=3))
    assert await asyncio.wait_for(bot, 10) == 0
    texts = [m.message for m in tg.shown(ALICE.id)]
    # Alice reads Russian: "shutting down, try again in a minute".
    assert [t for t in texts if t.startswith("Бот выключается") and "через минуту" in t], texts
    assert not any("are you there" in t for t in texts)  # not answered, nothing charged
    assert any("tell me something long" in t for t in texts)  # the answer in flight finished


async def test_private_answers_stream_as_drafts_by_default(tmp_path: Path) -> None:
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings_for(tmp_path), tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "start")
    await tg.receive(incoming("hello", message_id=1))
    await until(lambda: any("Offline model" in m.message for m in tg.shown(ALICE.id)), "answer")
    drafts = [
        r.action
        for r in tg.of(functions.messages.SetTypingRequest)
        if isinstance(r.action, types.SendMessageTextDraftAction)
    ]
    assert drafts
    assert tg.edits() == []
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=2))
    assert await asyncio.wait_for(bot, 10) == 0


def test_a_wrong_stream_mode_is_named() -> None:
    with pytest.raises(ConfigError, match="STREAM_MODE must be auto, draft or edit"):
        settings_from({"STREAM_MODE": "fast"})


async def test_an_admin_the_bot_cannot_reach_holds_no_user_back(tmp_path: Path) -> None:
    tg = FakeTelegram()
    settings = settings_for(tmp_path, ADMIN_CHAT_ID="31337")  # never talked to the bot
    bot = asyncio.create_task(serve(settings, tg, handle_signals=False))
    await until(lambda: tg.of(functions.bots.SetBotCommandsRequest), "start")
    await tg.receive(incoming("hello", message_id=1))  # a new user: a notice for the admin
    await until(lambda: any("Offline model" in m.message for m in tg.shown(ALICE.id)), "answer")
    bot.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bot
