"""Which transcriber and image maker a bot gets from its settings: placeholders only for a bot
with no key at all, never beside real models (they would charge real tokens for nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.models.offline.media import OfflineImageMaker, OfflineTranscriber
from adapters.models.openai.media import OpenAIImageMaker, OpenAITranscriber
from entrypoints.bootstrap import MediaParts, build_media
from entrypoints.settings import settings_from


def parts(tmp_path: Path, **env: str) -> MediaParts:
    built = build_media(settings_from(env, tmp_path))
    for part in (built.transcriber, built.image_maker):
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
