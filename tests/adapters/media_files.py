"""Real media files made by the tests: a recording encoded as Ogg/Opus by opusenc (as Telegram's
voice notes are), a PNG, and a JPEG's header."""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

from adapters.models.offline.media import pattern_png
from tests.media import OPUSENC, require


def tone_wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    """A 440 Hz tone, mono 16-bit PCM."""
    frames = b"".join(
        struct.pack("<h", round(8_000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(round(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def voice_note(directory: Path, seconds: float, name: str = "voice.ogg") -> Path:
    """An Ogg/Opus recording of ``seconds`` made by opusenc (opus-tools, a Debian package)."""
    require(OPUSENC)  # fails instead of skipping in CI
    source = tone_wav(directory / "tone.wav", seconds)
    target = directory / name
    subprocess.run(
        [OPUSENC, "--quiet", "--bitrate", "16", str(source), str(target)],
        check=True,
        timeout=60,
    )
    return target


def png_file(path: Path, prompt: str = "a test picture", size: int = 64) -> Path:
    path.write_bytes(pattern_png(prompt, size))
    return path


def jpeg_head(width: int, height: int) -> bytes:
    """The start of a baseline JPEG as cameras write it: SOI, a JFIF APP0, an EXIF-sized APP1,
    then the frame header that carries the size (no image data follows)."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"Exif\x00\x00" + bytes(20_000)
    sof0 = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return (
        b"\xff\xd8"
        + b"\xff\xe0"
        + struct.pack(">H", len(app0) + 2)
        + app0
        + b"\xff\xe1"
        + struct.pack(">H", len(app1) + 2)
        + app1
        + b"\xff\xc0"
        + struct.pack(">H", len(sof0) + 2)
        + sof0
    )
