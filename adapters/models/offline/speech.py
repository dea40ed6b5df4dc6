"""Reading aloud without a network: espeak-ng speaks, opusenc (opus-tools) encodes the speech
as OGG/Opus, the format of a Telegram voice note.

The voice is robotic but real: the console and the tests get an actual voice note, with a length
a decoder agrees with. Both programs are small Debian packages (``apt-get install espeak-ng
opus-tools``); where either is missing the composition root offers no spoken answers
(``installed``), and ``/voice on`` is refused plainly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil

import attrs

from adapters.media.headers import opus_seconds
from core import errors
from core.values import VoiceNote

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
OPUSENC = "opusenc"
TIMEOUT = 120.0  # seconds for one voice note: espeak-ng reads 4 096 characters in about one


def installed() -> bool:
    """Whether espeak-ng and opusenc can be run here."""
    return shutil.which(ESPEAK) is not None and shutil.which(OPUSENC) is not None


@attrs.frozen
class EspeakSpeaker:
    """Implements ``core.ports.Speaker`` with espeak-ng piped into opusenc."""

    voice: str | None = None  # an espeak-ng voice; None: the person's language
    timeout: float = TIMEOUT
    espeak: str = ESPEAK  # the programs, as found on the PATH or at a path
    opusenc: str = OPUSENC

    async def speak(self, text: str, *, language: str) -> VoiceNote:
        try:
            async with asyncio.timeout(self.timeout):
                speak = [self.espeak, "-v", self.voice or language, "--stdin", "--stdout"]
                wav = await _run(speak, text.encode())
                # Telegram's own voice notes are mono speech at about 32 kbit/s.
                encode = [self.opusenc, "--quiet", "--speech", "--bitrate", "32", "-", "-"]
                ogg = await _run(encode, wav)
        except TimeoutError as exc:
            raise errors.ModelTimeout("espeak-ng and opusenc took too long") from exc
        seconds = opus_seconds(ogg)
        if seconds is None or seconds <= 0:
            raise errors.ModelUnavailable(f"opusenc made {len(ogg)} bytes that are no Ogg/Opus")
        return VoiceNote(ogg, seconds)

    async def close(self) -> None:
        """Nothing to release."""


async def _run(command: list[str], data: bytes) -> bytes:
    """What ``command`` writes when given ``data`` on its input; ModelError when it cannot run
    or fails. Cancelled (a timeout), it is killed."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise errors.ModelMisconfigured(f"cannot run {command[0]}: {exc}") from exc
    try:
        out, err = await process.communicate(data)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip()[:300]
        raise errors.ModelUnavailable(f"{command[0]} failed ({process.returncode}): {detail}")
    return out
