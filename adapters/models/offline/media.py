"""Voice and pictures without a network, so that every capability can be tried without a key.

Neither pretends: the transcriber cannot recognise speech offline and says what it received
instead; the image maker draws a pattern whose colours come from the description, so the same
description gives the same picture and another gives another.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import PurePath

import attrs

from adapters.media.headers import HEAD_BYTES, TAIL_BYTES, describe_size, ogg_seconds
from core.values import Picture, Transcript


@attrs.frozen
class OfflineTranscriber:
    """Implements ``core.ports.Transcriber``: a labelled description of the recording."""

    async def transcribe(
        self, audio: bytes, *, name: str, mime: str | None, language: str | None
    ) -> Transcript:
        seconds = ogg_seconds(audio[:HEAD_BYTES], audio[-TAIL_BYTES:])
        what = (
            f"a {seconds:.1f} s recording"
            if seconds is not None
            else f"a recording of {describe_size(len(audio))}"
        )
        label = PurePath(name).name or "audio"
        return Transcript(
            f"(offline transcriber: {what}, {label}; speech is recognised only with a "
            "transcription server)",
            seconds,
        )

    async def close(self) -> None:
        """Nothing to release."""


@attrs.frozen
class OfflineImageMaker:
    """Implements ``core.ports.ImageMaker``: a ``size`` × ``size`` PNG of stripes across a
    gradient, in colours taken from a hash of the description."""

    size: int = 256

    async def make(self, prompt: str) -> Picture:
        return Picture(pattern_png(prompt, self.size), "image/png")

    async def close(self) -> None:
        """Nothing to release."""


def pattern_png(prompt: str, size: int) -> bytes:
    """A deterministic RGB PNG for ``prompt``, made with zlib alone."""
    seed = hashlib.sha256(" ".join(prompt.split()).lower().encode()).digest()
    start, end, stripe = seed[0:3], seed[3:6], seed[6:9]
    period = 8 + seed[9] % 24
    # Every pixel's colour depends on x + y only: one colour per diagonal, rows are slices.
    diagonals = 2 * size - 1
    colours = [
        stripe
        if d // period % 4 == 0
        else bytes(
            round(a + (b - a) * d / max(diagonals - 1, 1)) for a, b in zip(start, end, strict=True)
        )
        for d in range(diagonals)
    ]
    # Each row starts with its filter type, 0: the pixels as they are.
    rows = b"".join(b"\x00" + b"".join(colours[y : y + size]) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
