"""Spoken answers from the console: offline (espeak-ng and opusenc make a real OGG/Opus file,
saved beside the data and its path printed), against OpenAI-compatible servers (LLMock answers,
the tests' media server speaks), and turned off by the operator."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

from adapters.media.probe import DecoderProbe
from entrypoints.console import run_console
from entrypoints.settings import settings_from
from tests.media import ESPEAK, OPUSENC, require, speech_ogg
from tests.servers.openai_media import SPEECH, MediaServer

KEY = "sk-test-console-voice-0123456789"
_SHOWN = re.compile(r"Tokens used: ≈?(\d[\d ]*)")
_VOICE = re.compile(r"\[voice (\S+\.ogg), audio/ogg, (\d+\.\d) s, [^\]]+\] 🔊 Tokens used: (\d+)")


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    with MediaServer.running() as server:
        yield server


async def console(tmp_path: Path, script: str, **env: str) -> str:
    settings = settings_from({"OFFLINE_DELAY": "0", "ADMIN_CHAT_ID": "1", **env}, tmp_path)
    out = io.StringIO()
    assert await run_console(settings, io.StringIO(script), out) == 0
    return out.getvalue()


def account(tmp_path: Path, user_id: str = "100") -> dict[str, object]:
    entry: dict[str, object] = json.loads((tmp_path / "data.json").read_text())[user_id]
    return entry


def charges(output: str) -> int:
    """The sum of every charge the bot showed: the answers' footers and the voice notes'."""
    return sum(int(m.group(1).replace(" ", "")) for m in _SHOWN.finditer(output))


async def test_voice_on_offline_saves_a_real_voice_note_beside_the_data(tmp_path: Path) -> None:
    require(ESPEAK, OPUSENC)
    out = await console(tmp_path, "/voice on\nhello there\n/voice off\nand now?\n", TTS_PRICE="3")
    assert "From now on I also send my answers as voice notes" in out
    [voice] = _VOICE.findall(out)  # the second answer has none
    path = Path(voice[0])
    assert path.parent == tmp_path / "data.voices"
    data = path.read_bytes()
    seconds = await DecoderProbe().recording(data)
    assert seconds is not None
    assert seconds == pytest.approx(float(voice[1]), abs=0.05)
    answer_line = out[: out.index("[voice ")].rsplit("bot →", 1)[0]
    assert "Tokens used" in answer_line  # the text came first
    user = account(tmp_path)
    assert user.get("voice", False) is False  # /voice off: written only when on
    assert user["balance"] == 30_000 - charges(out)  # every charge shown is the charge saved
    assert user["tokens"] == charges(out)


async def test_voice_through_openai_compatible_servers(
    tmp_path: Path, llm: LLMock, media_server: MediaServer
) -> None:
    spoken = speech_ogg("Paris is the capital.", tmp_path / "paris.ogg").read_bytes()
    media_server.audio(spoken)
    llm.reply("**Paris** is the capital.")
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": llm.base_url("openai"),
        "MODELS": "gpt-6-luna window=128000",
        "TTS_BASE_URL": media_server.base_url,
        "TTS_VOICE": "coral",
        "TTS_PRICE": "0.5",
        "OPENAI_MAX_RETRIES": "0",
    }
    out = await console(tmp_path, "/voice on\nwhat is the capital of France?\n", **env)
    [request] = [r for r in media_server.received if r.path == SPEECH]
    assert request.fields == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": "Paris is the capital.",  # read as words, without the Markdown
        "response_format": "opus",
    }
    [voice] = _VOICE.findall(out)
    assert Path(voice[0]).read_bytes() == spoken
    assert int(voice[2]) == 11  # 21 characters at half a token, rounded up
    assert account(tmp_path)["balance"] == 30_000 - charges(out)


async def test_a_speech_server_that_fails_costs_nothing_and_says_so(
    tmp_path: Path, llm: LLMock, media_server: MediaServer
) -> None:
    media_server.fail(500, message="the voice is hoarse")
    llm.reply("Paris.")
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": llm.base_url("openai"),
        "MODELS": "gpt-6-luna window=128000",
        "TTS_BASE_URL": media_server.base_url,
        "OPENAI_MAX_RETRIES": "0",
    }
    out = await console(tmp_path, "/voice on\nwhat is the capital of France?\n", **env)
    assert "The answer could not be read aloud." in out
    assert "[voice " not in out
    assert account(tmp_path)["balance"] == 30_000 - charges(out)  # the answer's charge alone


async def test_the_operator_can_turn_spoken_answers_off(tmp_path: Path) -> None:
    out = await console(tmp_path, "/voice on\n", TTS_ENABLED="false")
    assert "This bot cannot send answers as voice notes here." in out
    assert "voice" not in account(tmp_path)
