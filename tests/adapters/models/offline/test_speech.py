"""The offline speaker: espeak-ng piped into opusenc makes a real OGG/Opus voice note, which
the media probe measures as the speaker says; a program that fails is a core error."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.media.probe import DecoderProbe
from adapters.models.offline import speech
from adapters.models.offline.speech import EspeakSpeaker
from core import errors
from core.ports import Speaker
from tests.media import ESPEAK, OPUSENC, require


async def test_espeak_and_opusenc_make_a_voice_note_the_probe_measures() -> None:
    require(ESPEAK, OPUSENC)
    assert speech.installed()
    port: Speaker = EspeakSpeaker()
    short = await port.speak("Hello.", language="en")
    note = await port.speak(
        "Hello there. This answer is read aloud, sentence by sentence.", language="en"
    )
    assert note.data.startswith(b"OggS")
    assert note.data[28:36] == b"OpusHead"
    assert await DecoderProbe().recording(note.data) == pytest.approx(note.seconds)
    assert note.seconds > short.seconds > 0.2  # more words, more seconds


async def test_the_person_language_chooses_the_voice() -> None:
    require(ESPEAK, OPUSENC)
    note = await EspeakSpeaker().speak("Привет, это ответ голосом.", language="ru")
    assert note.seconds > 0.5


async def test_text_that_looks_like_an_option_is_read_not_obeyed() -> None:
    require(ESPEAK, OPUSENC)
    note = await EspeakSpeaker().speak("--help -v xx", language="en")
    assert note.seconds > 0.2


async def test_a_program_missing_is_the_operator_s_to_mend() -> None:
    speaker = EspeakSpeaker(espeak="/nonexistent/espeak-ng")
    with pytest.raises(errors.ModelMisconfigured, match="cannot run /nonexistent/espeak-ng"):
        await speaker.speak("hi", language="en")


async def test_a_program_that_fails_is_a_core_error() -> None:
    require(ESPEAK)
    with pytest.raises(errors.ModelUnavailable, match="false failed"):
        await EspeakSpeaker(opusenc="false").speak("hi", language="en")


async def test_an_encoder_that_writes_no_ogg_is_a_core_error(tmp_path: Path) -> None:
    require(ESPEAK)
    encoder = tmp_path / "not-opusenc"
    encoder.write_text("#!/bin/sh\ncat >/dev/null\necho 'RIFF, not Ogg'\n")
    encoder.chmod(0o755)
    with pytest.raises(errors.ModelUnavailable, match="no Ogg/Opus"):
        await EspeakSpeaker(opusenc=str(encoder)).speak("hi", language="en")
