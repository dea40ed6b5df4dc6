"""Text to speech on any OpenAI-compatible API, through the official SDK.

``OpenAISpeaker`` implements ``core.ports.Speaker`` with ``audio.speech`` (OpenAI's
``gpt-4o-mini-tts``, or a compatible server such as a local Kokoro or Piper behind the same
route), asking for ``opus``: OGG/Opus, what a Telegram voice note is. What comes back is checked
by counting its Opus packets: anything else (an MP3 from a server that ignores the format) is a
failure, never a voice note that will not play. Failures leave as ``core.errors.ModelError``,
translated exactly as the chat model's are.
"""

from __future__ import annotations

import logging

import openai

from adapters.media.headers import opus_seconds
from adapters.models.openai.chat import SdkFactory, sdk_client
from adapters.models.openai.errors import translate
from core import errors
from core.values import VoiceNote

log = logging.getLogger(__name__)

SPEECH_MODEL = "gpt-4o-mini-tts"
SPEECH_VOICE = "alloy"
# Up to 4 096 characters, read by a model that answers in a few seconds to a minute.
SPEECH_TIMEOUT = 120.0


class OpenAISpeaker:
    """``core.ports.Speaker`` over an OpenAI-compatible ``/audio/speech`` route."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str = SPEECH_MODEL,
        voice: str = SPEECH_VOICE,
        timeout: float | None = None,
    ) -> None:
        """Wrap a ready client; ``timeout`` (seconds) overrides the client's for each request."""
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        if not voice.strip():
            raise ValueError("a voice is required")
        self._client = client
        self._model = model
        self._voice = voice
        self._timeout = timeout

    @classmethod
    def create(
        cls,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = SPEECH_MODEL,
        voice: str = SPEECH_VOICE,
        timeout: float = SPEECH_TIMEOUT,
        max_retries: int = 2,
        make_client: SdkFactory = sdk_client,
    ) -> OpenAISpeaker:
        """A speaker on OpenAI's API, or on the compatible server at ``base_url``. The SDK
        retries 408, 409, 429, 5xx and lost connections up to ``max_retries`` times."""
        client = make_client(api_key, base_url, timeout, max_retries, None)
        return cls(client, model=model, voice=voice)

    def __repr__(self) -> str:
        # Spelled out so that the client, which holds the key, never shows up in a log line.
        return (
            f"OpenAISpeaker(model={self._model!r}, voice={self._voice!r}, "
            f"base_url={str(self._client.base_url)!r})"
        )

    async def close(self) -> None:
        await self._client.close()

    async def speak(self, text: str, *, language: str) -> VoiceNote:
        """``text`` read aloud in the configured voice (OpenAI's voices speak every language
        they read: ``language`` is not needed)."""
        try:
            response = await self._client.audio.speech.create(
                model=self._model,
                voice=self._voice,
                input=text,
                response_format="opus",
                timeout=self._timeout if self._timeout is not None else openai.NOT_GIVEN,
            )
            data = response.content
        except openai.OpenAIError as exc:
            raise translate(exc, key=self._client.api_key) from exc
        seconds = opus_seconds(data)
        if seconds is None or seconds <= 0:
            raise errors.ModelUnavailable(
                f"the speech server sent {len(data)} bytes that are no Ogg/Opus recording"
            )
        log.debug("read %d characters aloud: %d bytes, %.1f s", len(text), len(data), seconds)
        return VoiceNote(data, seconds)
