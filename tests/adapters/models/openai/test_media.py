"""OpenAITranscriber and OpenAIImageMaker against real local servers: the tests' own
OpenAI-compatible media server (transcriptions, pictures, faults) and LLMock (pictures)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock

from adapters.models.openai.media import OpenAIImageMaker, OpenAITranscriber
from core import errors
from core.ports import ImageMaker, Transcriber
from core.values import Picture, Transcript
from tests.media import ogg_opus_seconds, png_bytes, png_size, speech_ogg
from tests.servers.openai_media import MediaServer, Upload

KEY = "sk-test-0123456789abcdef"
AUDIO = b"not really audio, but the server does not listen"


@pytest.fixture(scope="module")
def running() -> Iterator[MediaServer]:
    with MediaServer.running() as server:
        yield server


@pytest.fixture
def server(running: MediaServer) -> MediaServer:
    return running.reset()


@pytest.fixture
async def transcriber(server: MediaServer) -> AsyncIterator[Callable[..., OpenAITranscriber]]:
    made: list[OpenAITranscriber] = []

    def make(*, base_url: str | None = None, timeout: float = 5.0, max_retries: int = 0):
        made.append(
            OpenAITranscriber.create(
                api_key=KEY,
                base_url=base_url or server.base_url,
                timeout=timeout,
                max_retries=max_retries,
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


@pytest.fixture
async def painter(server: MediaServer) -> AsyncIterator[Callable[..., OpenAIImageMaker]]:
    made: list[OpenAIImageMaker] = []

    def make(*, base_url: str | None = None, model: str = "gpt-image-2", timeout: float = 5.0):
        made.append(
            OpenAIImageMaker.create(
                api_key=KEY,
                base_url=base_url or server.base_url,
                model=model,
                size="512x384",
                timeout=timeout,
                max_retries=0,
            )
        )
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def hear(transcriber: Transcriber, *, language: str | None = "en") -> Transcript:
    return await transcriber.transcribe(AUDIO, name="note.ogg", mime="audio/ogg", language=language)


# -- transcription ----------------------------------------------------------------------------


async def test_a_transcript_and_its_seconds(server: MediaServer, transcriber) -> None:
    server.say(" Hello there.", seconds=3.5)
    model: Transcriber = transcriber()  # mypy checks here that the adapter fits the port

    assert await hear(model) == Transcript("Hello there.", 3.5)
    [received] = server.received
    assert received.path == "/v1/audio/transcriptions"
    assert received.files == {"file": Upload("note.ogg", "audio/ogg", AUDIO)}
    assert received.fields["model"] == "gpt-transcribe"
    assert received.fields["language"] == "en"
    assert received.fields["response_format"] == "json"
    assert received.headers["authorization"] == f"Bearer {KEY}"


async def test_a_whisper_servers_duration_is_the_length(server: MediaServer, transcriber) -> None:
    server.say("words", seconds=7.25, whisper=True)
    assert await hear(transcriber()) == Transcript("words", 7.25)


async def test_no_duration_from_the_server_is_none(server: MediaServer, transcriber) -> None:
    server.say("words")  # AUDIO is not OGG/Opus: the server cannot tell its length
    assert await hear(transcriber()) == Transcript("words", None)


@pytest.mark.parametrize(
    ("tag", "sent"), [("ru", "ru"), ("pt-BR", "pt"), ("en_US", "en"), ("tlh", None), (None, None)]
)
async def test_the_language_goes_as_an_iso_639_1_code_or_not_at_all(
    server: MediaServer, transcriber, tag: str | None, sent: str | None
) -> None:
    await hear(transcriber(), language=tag)
    assert server.received[0].fields.get("language") == sent


async def test_a_file_without_a_type_goes_by_its_name(server: MediaServer, transcriber) -> None:
    await transcriber().transcribe(AUDIO, name="memo.mp3", mime=None, language=None)
    upload = server.received[0].files["file"]
    assert upload.name == "memo.mp3"
    assert upload.data == AUDIO


@pytest.mark.parametrize(
    ("status", "code", "message", "error"),
    [
        (429, None, "Rate limit reached", errors.RateLimited),
        (429, "insufficient_quota", "You exceeded your current quota", errors.AuthFailed),
        (401, "invalid_api_key", "Incorrect API key provided", errors.AuthFailed),
        (500, None, "The server had an error", errors.ModelUnavailable),
        (503, None, "Overloaded", errors.ModelUnavailable),
        (400, "content_policy_violation", "Refused by the safety system", errors.ContentFiltered),
        (
            404,
            "model_not_found",
            "The model 'gpt-transcribe' does not exist",
            errors.ModelMisconfigured,
        ),
        (400, None, "Invalid file format. Supported formats: flac, mp3", errors.ModelMisconfigured),
    ],
)
async def test_refusals_become_core_errors(
    server: MediaServer,
    transcriber,
    status: int,
    code: str | None,
    message: str,
    error: type[errors.ModelError],
) -> None:
    server.fail(status, code=code, message=message)
    with pytest.raises(error) as caught:
        await hear(transcriber())
    assert type(caught.value) is error
    assert message in str(caught.value)  # the server's own words, for the admin


async def test_a_key_the_server_quotes_is_masked(server: MediaServer, transcriber) -> None:
    server.fail(401, message=f"Incorrect API key provided: {KEY}")
    with pytest.raises(errors.AuthFailed) as caught:
        await hear(transcriber())
    assert KEY not in str(caught.value)


async def test_a_failure_is_retried_with_the_same_upload(server: MediaServer, transcriber) -> None:
    server.fail(500, retry_after=0.05).say("second time lucky")

    assert (await hear(transcriber(max_retries=1))).text == "second time lucky"
    first, second = server.received
    assert first.files == second.files == {"file": Upload("note.ogg", "audio/ogg", AUDIO)}


async def test_a_slow_server_is_given_up_at_the_timeout(server: MediaServer, transcriber) -> None:
    server.slow(10)
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout):
        await hear(transcriber(timeout=0.3))
    assert time.monotonic() - started < 8  # the server: 10 s


async def test_no_server_is_a_lost_connection(transcriber) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(errors.ConnectionLost):
        await hear(transcriber(base_url=f"http://127.0.0.1:{port}/v1"))


async def test_a_voice_note_reaches_the_server_byte_for_byte(
    server: MediaServer, transcriber, tmp_path: Path
) -> None:
    """A real voice note, spoken by espeak-ng and encoded as Telegram's are (OGG/Opus)."""
    note = speech_ogg("Please remind me to water the plants.", tmp_path / "voice.ogg")
    audio = note.read_bytes()
    server.say("Please remind me to water the plants.")

    transcript = await transcriber().transcribe(
        audio, name="voice.ogg", mime="audio/ogg", language="en"
    )

    [received] = server.received
    assert received.files["file"] == Upload("voice.ogg", "audio/ogg", audio)
    # The server measured the upload itself: only a whole, valid Opus stream gives its length.
    assert transcript == Transcript(
        "Please remind me to water the plants.", ogg_opus_seconds(audio)
    )
    assert 1.0 < (transcript.seconds or 0) < 10.0


def test_the_transcribers_key_stays_out_of_repr() -> None:
    made = OpenAITranscriber.create(api_key=KEY, model="whisper-local")
    assert KEY not in repr(made)
    assert "whisper-local" in repr(made)


@pytest.mark.parametrize("settings", [{"api_key": ""}, {"timeout": 0.0}, {"max_retries": -1}])
def test_nonsense_transcriber_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        OpenAITranscriber.create(**{"api_key": KEY, **settings})  # type: ignore[arg-type]


# -- pictures ---------------------------------------------------------------------------------


async def test_a_picture_from_the_server(server: MediaServer, painter) -> None:
    drawn = png_bytes(32, 24)
    server.picture(drawn)
    maker: ImageMaker = painter()  # mypy checks here that the adapter fits the port

    picture = await maker.make("a red square")

    assert picture == Picture(drawn, "image/png")
    assert png_size(picture.data) == (32, 24)
    [received] = server.received
    assert received.path == "/v1/images/generations"
    assert received.fields == {
        "model": "gpt-image-2",
        "prompt": "a red square",
        "n": 1,
        "size": "512x384",
    }


async def test_llmock_pictures_for_a_gpt_image_model(llm: LLMock) -> None:
    """GPT image models refuse ``response_format``: LLMock then answers with a data URL."""
    maker = OpenAIImageMaker.create(api_key=KEY, base_url=llm.base_url("openai"), size="256x256")
    try:
        picture = await maker.make("a lighthouse at dusk")
    finally:
        await maker.close()

    assert picture.mime == "image/svg+xml"
    assert b"a lighthouse at dusk" in picture.data
    assert b"width='256'" in picture.data
    assert "response_format" not in llm.last_request.body


async def test_llmock_pictures_for_another_model_come_as_base64(llm: LLMock) -> None:
    maker = OpenAIImageMaker.create(api_key=KEY, base_url=llm.base_url("openai"), model="sd-turbo")
    try:
        picture = await maker.make("a fox")
    finally:
        await maker.close()

    assert llm.last_request.body["response_format"] == "b64_json"
    assert llm.last_request.body["model"] == "sd-turbo"
    assert picture.mime == "image/svg+xml"
    assert b"a fox" in picture.data


async def test_llmock_refusing_the_description(llm: LLMock) -> None:
    llm.fail(400, code="content_policy_violation", message="Your request was rejected.")
    maker = OpenAIImageMaker.create(api_key=KEY, base_url=llm.base_url("openai"), max_retries=0)
    try:
        with pytest.raises(errors.ContentFiltered):
            await maker.make("something forbidden")
    finally:
        await maker.close()


@pytest.mark.parametrize("code", ["moderation_blocked", "content_policy_violation"])
async def test_a_refused_description_is_content_filtered(
    server: MediaServer, painter, code: str
) -> None:
    server.fail(400, code=code, message="Your request was rejected by the safety system.")
    with pytest.raises(errors.ContentFiltered):
        await painter().make("something forbidden")


async def test_a_link_instead_of_the_picture_is_a_setting_to_fix(
    server: MediaServer, painter
) -> None:
    server.link("http://127.0.0.1:9/picture.png")
    with pytest.raises(errors.ModelMisconfigured, match="b64_json"):
        await painter(model="dall-e-3").make("a cat")
    assert server.received[0].fields["response_format"] == "b64_json"


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"GIF87a", "image/gif"),
        (png_bytes(1, 1), "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
    ],
)
async def test_the_type_is_read_from_the_bytes(
    server: MediaServer, painter, data: bytes, mime: str
) -> None:
    server.picture(data)
    assert await painter().make("anything") == Picture(data, mime)


async def test_bytes_that_are_no_picture_are_the_servers_failure(
    server: MediaServer, painter
) -> None:
    server.picture(b"Internal error: the GPU caught fire")
    with pytest.raises(errors.ModelUnavailable, match="not a picture"):
        await painter().make("a cat")


async def test_a_slow_painter_is_given_up_at_the_timeout(server: MediaServer, painter) -> None:
    server.slow(10)
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout):
        await painter(timeout=0.3).make("a cat")
    assert time.monotonic() - started < 8  # the server: 10 s


async def test_a_throttled_painter(server: MediaServer, painter) -> None:
    server.fail(429, message="Rate limit reached for images")
    with pytest.raises(errors.RateLimited):
        await painter().make("a cat")


@pytest.mark.parametrize("size", ["big", "1024", "1024x", ""])
def test_a_size_that_is_not_one_is_refused(size: str) -> None:
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        OpenAIImageMaker.create(api_key=KEY, size=size)


def test_the_image_makers_key_stays_out_of_repr() -> None:
    made = OpenAIImageMaker.create(api_key=KEY)
    assert KEY not in repr(made)
    assert "gpt-image-2" in repr(made)
