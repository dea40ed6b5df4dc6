"""Which transcriber and image maker a bot gets from its settings: placeholders only for a bot
with no key at all, never beside real models (they would charge real tokens for nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.models.offline.media import OfflineImageMaker, OfflineTranscriber
from adapters.models.offline.speech import EspeakSpeaker
from adapters.models.openai.media import OpenAIImageMaker, OpenAITranscriber
from adapters.models.openai.speech import OpenAISpeaker
from entrypoints.bootstrap import MediaParts, build_bot, build_media, build_speaker
from entrypoints.settings import settings_from
from tests.fakes import RecordingSink
from tests.media import ESPEAK, OPUSENC, require


def parts(tmp_path: Path, **env: str) -> MediaParts:
    built = build_media(settings_from(env, tmp_path))
    for part in (built.transcriber, built.image_maker, built.speaker):
        if part is not None:
            asyncio.run(part.close())
    return built


def test_a_bot_without_any_key_gets_the_offline_ones(tmp_path: Path) -> None:
    built = parts(tmp_path)
    assert isinstance(built.transcriber, OfflineTranscriber)
    assert isinstance(built.image_maker, OfflineImageMaker)


def test_openai_gets_openai_media(tmp_path: Path) -> None:
    built = parts(tmp_path, OPENAI_API_KEY="sk-test")
    assert isinstance(built.transcriber, OpenAITranscriber)
    assert isinstance(built.image_maker, OpenAIImageMaker)


def test_real_models_without_media_keys_refuse_media_instead_of_placeholders(
    tmp_path: Path,
) -> None:
    built = parts(tmp_path, MODELS="llama3.2 base_url=http://127.0.0.1:11434/v1 api_key=ollama")
    assert (built.transcriber, built.image_maker) == (None, None)


def test_a_local_transcription_server_needs_no_key(tmp_path: Path) -> None:
    built = parts(
        tmp_path,
        MODELS="llama3.2 base_url=http://127.0.0.1:11434/v1 api_key=ollama",
        TRANSCRIPTION_BASE_URL="http://127.0.0.1:9000/v1",
    )
    assert isinstance(built.transcriber, OpenAITranscriber)
    assert "127.0.0.1:9000" in repr(built.transcriber)
    assert built.image_maker is None


# -- spoken answers -------------------------------------------------------------------------------


def test_no_key_reads_aloud_with_espeak_when_installed(tmp_path: Path) -> None:
    require(ESPEAK, OPUSENC)
    built = parts(tmp_path)
    assert built.speaker == EspeakSpeaker()
    assert parts(tmp_path, TTS_VOICE="en-us").speaker == EspeakSpeaker("en-us")


def test_no_key_and_no_espeak_offers_no_speech(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither program can be found
    assert parts(tmp_path).speaker is None


def test_openai_reads_aloud_with_the_speech_settings(tmp_path: Path) -> None:
    built = parts(tmp_path, OPENAI_API_KEY="sk-test", TTS_VOICE="coral", TTS_MODEL="tts-x")
    assert isinstance(built.speaker, OpenAISpeaker)
    assert "model='tts-x', voice='coral'" in repr(built.speaker)


def test_a_local_speech_server_beside_real_models(tmp_path: Path) -> None:
    models = "llama3.2 base_url=http://127.0.0.1:11434/v1 api_key=ollama"
    assert parts(tmp_path, MODELS=models).speaker is None
    built = parts(tmp_path, MODELS=models, TTS_BASE_URL="http://127.0.0.1:8880/v1")
    assert isinstance(built.speaker, OpenAISpeaker)
    assert "voice='alloy'" in repr(built.speaker)
    assert "127.0.0.1:8880" in repr(built.speaker)


def test_the_operator_turns_spoken_answers_off(tmp_path: Path) -> None:
    assert parts(tmp_path, OPENAI_API_KEY="sk-test", TTS_ENABLED="false").speaker is None
    settings = settings_from({"TTS_ENABLED": "false"}, tmp_path)
    assert build_speaker(settings) is None


def test_the_price_and_the_cap_reach_the_core(tmp_path: Path) -> None:
    settings = settings_from({"TTS_PRICE": "0.25", "TTS_MAX_CHARS": "1000"}, tmp_path)
    config = settings.bot_config("1")
    assert (config.speech_tokens_per_char, config.max_speech_chars) == (0.25, 1000)
    assert settings.voices_dir() == tmp_path / "data.voices"


async def test_the_parts_on_one_server_share_one_sdk_client_and_others_get_their_own(
    tmp_path: Path,
) -> None:
    env = {
        "OPENAI_API_KEY": "sk-test",
        "TTS_API_KEY": "sk-test",  # the same key and server: the same connections
        "TRANSCRIPTION_BASE_URL": "http://127.0.0.1:9/v1",  # a local whisper: its own
        "DATA_FILE": str(tmp_path / "data.json"),
    }
    bot = await build_bot(settings_from(env, tmp_path), admin_id="1", sink=RecordingSink())
    service = bot.service
    parts = {
        "model": next(iter(service.models.values())),
        "pictures": service.image_maker,
        "speech": service.speaker,
        "transcription": service.transcriber,
    }
    # The SDK client's HTTP client: what holds the connections.
    transports = {name: part._client._client for name, part in parts.items()}  # type: ignore[union-attr]
    assert transports["model"] is transports["pictures"] is transports["speech"]
    assert transports["transcription"] is not transports["model"]
    await bot.close()  # every part closes, the shared connections once, without an error
    assert all(transport.is_closed for transport in transports.values())
