"""Speech to text and pictures from text on any OpenAI-compatible API, through the official SDK.

``OpenAITranscriber`` implements ``core.ports.Transcriber`` with ``audio.transcriptions``
(OpenAI's ``gpt-transcribe``, or a local whisper server that speaks the same route);
``OpenAIImageMaker`` implements ``core.ports.ImageMaker`` with ``images.generate``. Failures
leave as ``core.errors.ModelError``, translated exactly as the chat model's are.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from urllib.parse import urlsplit

import openai

from adapters.media.headers import picture_mime
from adapters.models.openai.chat import SdkFactory, sdk_client
from adapters.models.openai.errors import translate
from core import errors
from core.values import Picture, Transcript

log = logging.getLogger(__name__)

TRANSCRIPTION_MODEL = "gpt-transcribe"
IMAGE_MODEL = "gpt-image-2"
IMAGE_SIZE = "1024x1024"

# An upload of up to 25 MB, then the server listens to all of it before it answers.
TRANSCRIPTION_TIMEOUT = 120.0
# OpenAI's image models take from seconds to about two minutes for one large picture.
IMAGE_TIMEOUT = 180.0

_SIZE = re.compile(r"\d+x\d+|auto")
# OpenAI's transcription models want an ISO-639-1 code and refuse anything else with a 400;
# messengers report tags such as "en-US" or "pt-br".
_LANGUAGE = re.compile(r"([a-zA-Z]{2})(?:[-_].*)?")


class OpenAITranscriber:
    """``core.ports.Transcriber`` over an OpenAI-compatible ``/audio/transcriptions`` route."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = TRANSCRIPTION_MODEL,
        timeout: float | None = None,
    ) -> None:
        """Wrap a ready client; ``timeout`` (seconds) overrides the client's for each request."""
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self._client = client
        self._model = model
        self._timeout = timeout

    @classmethod
    def create(
        cls,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = TRANSCRIPTION_MODEL,
        timeout: float = TRANSCRIPTION_TIMEOUT,
        max_retries: int = 2,
        make_client: SdkFactory = sdk_client,
    ) -> OpenAITranscriber:
        """A transcriber on OpenAI's API, or on the compatible server at ``base_url``. The SDK
        retries 408, 409, 429, 5xx and lost connections up to ``max_retries`` times."""
        return cls(make_client(api_key, base_url, timeout, max_retries, None), model=model)

    def __repr__(self) -> str:
        # Spelled out so that the client, which holds the key, never shows up in a log line.
        return f"OpenAITranscriber(model={self._model!r}, base_url={str(self._client.base_url)!r})"

    async def close(self) -> None:
        await self._client.close()

    async def transcribe(
        self, audio: bytes, *, name: str, mime: str | None, language: str | None
    ) -> Transcript:
        """The words of ``audio``; the seconds when the server reports them."""
        # The server tells the format by the file's name and type: both go as the client got them.
        upload = (name, audio) if mime is None else (name, audio, mime)
        code = _language(language)
        try:
            result = await self._client.audio.transcriptions.create(
                file=upload,
                model=self._model,
                language=code if code is not None else openai.omit,
                # "json" is the one format every transcription model and server supports.
                response_format="json",
                timeout=self._timeout if self._timeout is not None else openai.NOT_GIVEN,
            )
        except openai.OpenAIError as exc:
            raise translate(exc, key=self._client.api_key) from exc
        seconds = _seconds(result)
        log.debug(
            "transcribed %d bytes: %d characters, %s s", len(audio), len(result.text), seconds
        )
        # Whisper servers start the text with a space.
        return Transcript(result.text.strip(), seconds)


def _language(tag: str | None) -> str | None:
    match = _LANGUAGE.fullmatch(tag or "")
    return match.group(1).lower() if match else None


def _seconds(result: openai.types.audio.Transcription) -> float | None:
    """The audio's length: OpenAI reports it as duration usage, whisper servers as
    ``duration`` (verbose_json's field, which some also put in plain json)."""
    usage = result.usage
    if usage is not None and usage.type == "duration":
        return float(usage.seconds)
    duration = (result.model_extra or {}).get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        return float(duration)
    return None


class OpenAIImageMaker:
    """``core.ports.ImageMaker`` over an OpenAI-compatible ``/images/generations`` route."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = IMAGE_MODEL,
        size: str = IMAGE_SIZE,
        timeout: float | None = None,
    ) -> None:
        """Wrap a ready client; ``size`` is ``WIDTHxHEIGHT`` or ``auto``; ``timeout`` (seconds)
        overrides the client's for each request."""
        if not _SIZE.fullmatch(size):
            raise ValueError(f"an image size is WIDTHxHEIGHT or auto, not {size!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self._client = client
        self._model = model
        self._size = size
        self._timeout = timeout

    @classmethod
    def create(
        cls,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = IMAGE_MODEL,
        size: str = IMAGE_SIZE,
        timeout: float = IMAGE_TIMEOUT,
        max_retries: int = 2,
        make_client: SdkFactory = sdk_client,
    ) -> OpenAIImageMaker:
        """An image maker on OpenAI's API, or on the compatible server at ``base_url``."""
        client = make_client(api_key, base_url, timeout, max_retries, None)
        return cls(client, model=model, size=size)

    def __repr__(self) -> str:
        return (
            f"OpenAIImageMaker(model={self._model!r}, size={self._size!r}, "
            f"base_url={str(self._client.base_url)!r})"
        )

    async def close(self) -> None:
        await self._client.close()

    async def make(self, prompt: str) -> Picture:
        """One picture of ``prompt``; ``ContentFiltered`` when the provider refuses it."""
        try:
            response = await self._client.images.generate(
                model=self._model,
                prompt=prompt,
                n=1,
                size=self._size,
                # OpenAI's GPT image models always answer in base64 and refuse the parameter;
                # other servers (and the retired DALL·E) answer with a link unless asked.
                response_format=openai.omit if "gpt-image" in self._model else "b64_json",
                timeout=self._timeout if self._timeout is not None else openai.NOT_GIVEN,
            )
        except openai.OpenAIError as exc:
            raise translate(exc, key=self._client.api_key) from exc
        if not response.data:
            raise errors.ModelUnavailable("the image server answered without a picture")
        image = response.data[0]
        data = _decode(image.b64_json, image.url)
        mime = _picture_type(data)
        if mime is None:
            raise errors.ModelUnavailable(
                f"the image server sent {len(data)} bytes that are not a picture"
            )
        return Picture(data, mime)


def _decode(b64: str | None, url: str | None) -> bytes:
    if b64 is None and url is not None and url.startswith("data:"):
        b64 = url.partition(",")[2]  # a data URL carries the picture itself
    elif b64 is None and url is not None:
        # Fetching the link would reach a host the bot was never configured for.
        raise errors.ModelMisconfigured(
            f"the image server sent a link ({urlsplit(url).netloc}) instead of the picture: "
            "it must answer with b64_json"
        )
    if not b64:
        raise errors.ModelUnavailable("the image server answered without a picture")
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.ModelUnavailable("the image server sent a picture that is not base64") from exc


def _picture_type(data: bytes) -> str | None:
    """The picture's type by its first bytes (what it is, whatever the server said)."""
    known = picture_mime(data)
    if known is not None:
        return known
    if b"<svg" in data[:1024] and data.lstrip()[:1] == b"<":
        return "image/svg+xml"  # what LLMock draws; OpenAI only on request
    return None
