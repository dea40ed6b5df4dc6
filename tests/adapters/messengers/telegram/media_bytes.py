"""Real media files made with the standard library: a PNG picture and an OGG/Opus voice note of
silence, as Telegram's clients record them (Opus in Ogg, 48 kHz, mono)."""

from __future__ import annotations

import struct

from tests.media import png_bytes

__all__ = ["png_bytes", "silent_ogg"]


_SILENCE = b"\xf8\xff\xfe"  # one 20 ms Opus frame (CELT, fullband) of digital silence
_PRE_SKIP = 312


def silent_ogg(seconds: int) -> bytes:
    """An Ogg/Opus stream of ``seconds`` of silence: identification and comment headers, then
    the audio in one page per second, as RFC 7845 lays them out."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, _PRE_SKIP, 48_000, 0, 0)
    vendor = b"gptbot tests"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [_page([head], 0, 0, first=True), _page([tags], 0, 1)]
    for second in range(seconds):
        granule = _PRE_SKIP + (second + 1) * 48_000
        last = second == seconds - 1
        pages.append(_page([_SILENCE] * 50, granule, second + 2, last=last))
    return b"".join(pages)


def _page(
    packets: list[bytes], granule: int, sequence: int, *, first: bool = False, last: bool = False
) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    flags = (2 if first else 0) | (4 if last else 0)
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, 0x6770, sequence, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    checksum = struct.pack("<I", _ogg_crc(page))
    return page[:22] + checksum + page[26:]


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _crc_entry(index: int) -> int:
    value = index << 24
    for _ in range(8):
        value = ((value << 1) ^ 0x04C11DB7 if value & 0x80000000 else value << 1) & 0xFFFFFFFF
    return value


_CRC_TABLE = [_crc_entry(i) for i in range(256)]
