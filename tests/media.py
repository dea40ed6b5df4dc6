"""Real media made by the tests: speech as a Telegram voice note, pictures as PNG files.

Speech comes from espeak-ng (a speech synthesiser) and is encoded by opusenc (opus-tools) into
OGG/Opus, mono, 48 kHz inside, which is what Telegram's voice notes are. opus-tools rather than
ffmpeg: it is a 171 kB Debian package against ffmpeg's few hundred megabytes of libraries, and
it is the reference encoder. Both are Debian packages that ``.ci/run`` installs when missing.

Where a program is missing, ``require`` skips the test with a loud reason; with
GPTBOT_REQUIRE_MEDIA=1 (``.ci/run`` sets it) it fails it instead, so CI cannot go green on a
machine that made no audio at all.

Pictures are written with the standard library (zlib): a real PNG any decoder reads. A JPEG
would need an encoder (Pillow or ffmpeg), which nothing here needs yet.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import warnings
import zlib
from pathlib import Path

import pytest

ESPEAK = "espeak-ng"
OPUSENC = "opusenc"
PACKAGES = {ESPEAK: "espeak-ng", OPUSENC: "opus-tools"}

# An Opus stream's granule positions count samples at 48 kHz whatever the input's rate (RFC 7845).
OPUS_RATE = 48_000


def require(*programs: str) -> None:
    """Skip the calling test (fail it under GPTBOT_REQUIRE_MEDIA=1) when a program is missing."""
    missing = [name for name in programs if shutil.which(name) is None]
    if not missing:
        return
    packages = " ".join(PACKAGES.get(name, name) for name in missing)
    message = (
        f"{', '.join(missing)} not installed: the tests with real audio are SKIPPED. "
        f"Install them (apt-get install {packages}; .ci/run does)."
    )
    if os.environ.get("GPTBOT_REQUIRE_MEDIA"):
        pytest.fail(message)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def speech_ogg(text: str, path: Path, *, voice: str = "en") -> Path:
    """``text`` spoken by espeak-ng, as an OGG/Opus voice note at ``path``."""
    require(ESPEAK, OPUSENC)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        wav = Path(scratch) / "speech.wav"
        _run(ESPEAK, "-v", voice, "-w", str(wav), text)
        # Telegram's own voice notes are mono speech at about 32 kbit/s.
        _run(OPUSENC, "--quiet", "--speech", "--bitrate", "32", str(wav), str(path))
    return path


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')}"
        )


def ogg_opus_seconds(data: bytes) -> float:
    """The playing time of an OGG/Opus file: the last page's granule position less the
    pre-skip of the OpusHead packet, in 48 kHz samples (RFC 7845, section 4)."""
    pre_skip: int | None = None
    last_granule = -1
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {offset}")
        if offset + 27 > len(data) or offset + 27 + data[offset + 26] > len(data):
            raise ValueError("the Ogg stream is cut short")
        granule = struct.unpack_from("<q", data, offset + 6)[0]
        segments = data[offset + 26]
        table = data[offset + 27 : offset + 27 + segments]
        body = offset + 27 + segments
        if body + sum(table) > len(data):
            raise ValueError("the Ogg stream is cut short")
        if pre_skip is None:
            if data[body : body + 8] != b"OpusHead":
                raise ValueError("the first Ogg packet is not an OpusHead: not an Opus stream")
            pre_skip = struct.unpack_from("<H", data, body + 10)[0]
        if granule != -1:  # -1: no packet ends on this page
            last_granule = granule
        offset = body + sum(table)
    if pre_skip is None or last_granule < 0:
        raise ValueError("no Opus audio in the data")
    return max(0, last_granule - pre_skip) / OPUS_RATE


def png_bytes(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A ``width`` × ``height`` PNG of one colour, 8-bit RGB."""
    if width <= 0 or height <= 0:
        raise ValueError("a picture has at least one pixel")
    row = b"\x00" + bytes(rgb) * width  # filter type 0 (None) before every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height, 9))
        + _chunk(b"IEND", b"")
    )


def png(width: int, height: int, path: Path, rgb: tuple[int, int, int] = (200, 30, 60)) -> Path:
    """``png_bytes`` written to ``path``."""
    path.write_bytes(png_bytes(width, height, rgb))
    return path


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (checks the signature and the header's CRC)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    (crc,) = struct.unpack_from(">I", data, 29)
    if zlib.crc32(data[12:29]) != crc:
        raise ValueError("a PNG with a damaged header")
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _ogg_crc(page: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, from 0 (RFC 3533)."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def forge_length(data: bytes, seconds: float) -> bytes:
    """An Ogg/Opus file whose last page claims ``seconds`` of audio (its granule position),
    checksum and all: what a client that lies about a voice note's length could send. The
    packets, which a decoder plays, are unchanged."""
    last = data.rfind(b"OggS")
    if last < 0:
        raise ValueError("not an Ogg file")
    head = data.find(b"OpusHead")
    pre_skip = struct.unpack_from("<H", data, head + 10)[0]
    page = bytearray(data[last:])
    struct.pack_into("<q", page, 6, pre_skip + round(seconds * OPUS_RATE))
    struct.pack_into("<I", page, 22, 0)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return data[:last] + bytes(page)
