"""What a media file's own header says, read without decoding it: a picture's size in pixels,
the length of an Ogg recording (Telegram's voice notes are Ogg/Opus).

Every function takes the bytes it needs and returns None for anything it does not recognise:
these are descriptions, never checks that a file is valid.
"""

from __future__ import annotations

import struct

# Enough of a file's start for a JPEG's frame header after its usual EXIF block, and enough of
# its end for an Ogg file's last page (at most 65 307 bytes).
HEAD_BYTES = 256 * 1024
TAIL_BYTES = 65_536 + 1_024

_PNG = b"\x89PNG\r\n\x1a\n"
_OGG = b"OggS"
# JPEG markers that start a frame and carry its size: SOF0-SOF15 but DHT, JPG and DAC.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_OPUS_RATE = 48_000  # an Opus granule position counts 48 kHz samples whatever the input was


def picture_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG from its first bytes."""
    if head.startswith(_PNG) and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return (width, height) if width and height else None
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in {0x01, *range(0xD0, 0xD8)}:  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return (width, height) if width and height else None
        if marker == 0xDA or length < 2:  # image data begins, or a broken length
            return None
        position += 2 + length
    return None


def picture_mime(head: bytes) -> str | None:
    """The type of a PNG, JPEG, WebP or GIF picture from its first bytes."""
    if head.startswith(_PNG):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def ogg_seconds(head: bytes, tail: bytes) -> float | None:
    """The length of an Ogg Opus or Vorbis recording: the last page's granule position (in
    samples) over the sample rate, less Opus's pre-skip. ``head`` is the file's start (its
    first page names the codec), ``tail`` its end."""
    if not head.startswith(_OGG) or len(head) < 28:
        return None
    body = head[27 + head[26] :]  # after the segment table of the first page
    if body.startswith(b"OpusHead") and len(body) >= 16:
        rate, skip = _OPUS_RATE, int.from_bytes(body[10:12], "little")
    elif body.startswith(b"\x01vorbis") and len(body) >= 16:
        rate, skip = int.from_bytes(body[12:16], "little"), 0
    else:
        return None
    serial = int.from_bytes(head[14:18], "little")
    granule = _last_granule(tail, serial)
    if granule is None or rate <= 0:
        return None
    return max(granule - skip, 0) / rate


def _last_granule(tail: bytes, serial: int) -> int | None:
    """The granule position of the last page of stream ``serial`` that ends a packet."""
    position = tail.rfind(_OGG)
    while position >= 0:
        page = tail[position : position + 27]
        if len(page) == 27 and page[4] == 0:  # version 0: a page header, not audio data
            granule = int.from_bytes(page[6:14], "little", signed=True)
            page_serial = int.from_bytes(page[14:18], "little")
            if page_serial == serial and granule >= 0:  # -1: no packet ends on this page
                return granule
        position = tail.rfind(_OGG, 0, position)
    return None


def describe_size(size: int) -> str:
    """A byte count as people read it: 980 bytes, 12.3 KB, 4.5 MB."""
    if size < 1_000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1_000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"
