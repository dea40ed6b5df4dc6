"""OpenAISpeaker against the tests' own OpenAI-compatible media server on 127.0.0.1: what it
asks for (the model, the voice, the text, Ogg/Opus), the voice note it gives back measured from
its packets, and every failure as a core error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from adapters.models.openai.speech import OpenAISpeaker
from core import errors
from core.ports import Speaker
from tests.media import ogg_opus_seconds, speech_ogg
from tests.servers.openai_media import SPEECH, MediaServer

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def running() -> Iterator[MediaServer]:
    with MediaServer.running() as server:
        yield server


@pytest.fixture
def server(running: MediaServer) -> MediaServer:
    return running.reset()


@pytest.fixture(scope="module")
def opus(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("speech") / "speech.ogg"
    return speech_ogg("Hello from the speech server.", path).read_bytes()


@pytest.fixture
async def speaker(server: MediaServer) -> AsyncIterator[Callable[..., OpenAISpeaker]]:
    made: list[OpenAISpeaker] = []

    def make(*, voice: str = "alloy", max_retries: int = 0) -> OpenAISpeaker:
        made.append(
            OpenAISpeaker.create(
                api_key=KEY,
                base_url=server.base_url,
                voice=voice,
                timeout=5.0,
                max_retries=max_retries,
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def test_the_text_is_read_in_the_voice_asked_for_as_ogg_opus(
    server: MediaServer, speaker: Callable[..., OpenAISpeaker], opus: bytes
) -> None:
    port: Speaker = speaker(voice="coral")
    server.audio(opus)
    note = await port.speak("Hello from the speech server.", language="en")
    assert note.data == opus
    # Counted from the packets: the last page's end trimming aside, what the pages say.
    assert note.seconds == pytest.approx(ogg_opus_seconds(opus), abs=0.05)
    [received] = server.received
    assert received.path == SPEECH
    assert received.fields == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": "Hello from the speech server.",
        "response_format": "opus",
    }
    assert received.headers["authorization"] == f"Bearer {KEY}"


async def test_audio_that_is_no_ogg_opus_is_a_failure_not_a_voice_note(
    server: MediaServer, speaker: Callable[..., OpenAISpeaker]
) -> None:
    server.audio(b"ID3\x04\x00 an MP3 from a server that ignored the format", "audio/mpeg")
    with pytest.raises(errors.ModelUnavailable, match="no Ogg/Opus"):
        await speaker().speak("hi", language="en")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, None, errors.AuthFailed),
        (429, None, errors.RateLimited),
        (429, "insufficient_quota", errors.AuthFailed),
        (404, "model_not_found", errors.ModelMisconfigured),
        (500, None, errors.ModelUnavailable),
    ],
)
async def test_failures_are_core_errors(
    server: MediaServer,
    speaker: Callable[..., OpenAISpeaker],
    status: int,
    code: str | None,
    expected: type[errors.ModelError],
) -> None:
    server.fail(status, code=code, message=f"refused, key {KEY}")
    with pytest.raises(expected) as failure:
        await speaker().speak("hi", language="en")
    assert KEY not in str(failure.value)  # a quoted key is masked


async def test_a_server_error_is_retried(
    server: MediaServer, speaker: Callable[..., OpenAISpeaker], opus: bytes
) -> None:
    server.fail(503).audio(opus)
    note = await speaker(max_retries=1).speak("hi", language="en")
    assert note.data == opus
    assert len(server.received) == 2


async def test_an_unreachable_server_is_a_lost_connection(tmp_path: Path) -> None:
    speaker = OpenAISpeaker.create(
        api_key=KEY, base_url="http://127.0.0.1:9/v1", timeout=2.0, max_retries=0
    )
    try:
        with pytest.raises(errors.ConnectionLost):
            await speaker.speak("hi", language="en")
    finally:
        await speaker.close()


def test_the_key_never_shows_in_its_repr() -> None:
    speaker = OpenAISpeaker.create(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    assert KEY not in repr(speaker)
    assert "gpt-4o-mini-tts" in repr(speaker)
