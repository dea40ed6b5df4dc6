"""What a media file's own header says, read without decoding it: a picture's size in pixels,
the length of an Ogg recording (Telegram's voice notes are Ogg/Opus).

Every function takes the bytes it needs and returns None for anything it does not recognise:
these are descriptions, never checks that a file is valid.
"""

from __future__ import annotations

import struct
from itertools import accumulate, compress, repeat
from operator import add, mul

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


# Samples (at 48 kHz) in one Opus frame, by the configuration in the top five bits of a
# packet's first byte, its TOC (RFC 6716, section 3.1): SILK 10/20/40/60 ms, hybrid 10/20 ms,
# CELT 2.5/5/10/20 ms.
_OPUS_FRAME = (
    *(480, 960, 1920, 2880) * 3,
    *(480, 960) * 2,
    *(120, 240, 480, 960) * 4,
)
_FRAME_OF = tuple(_OPUS_FRAME[toc >> 3] for toc in range(256))
# Samples of a packet by its TOC alone: one frame (code 0), two (codes 1 and 2); code 3 says
# its count in the next byte.
_SAMPLES_OF = tuple((1, 2, 2, 0)[toc & 3] * _FRAME_OF[toc] for toc in range(256))
_CODE_3 = bytes(int(toc & 3 == 3) for toc in range(256))
_COUNT = bytes(c & 0x3F for c in range(256))
_ENDS_PACKET = bytes(int(lace < 255) for lace in range(256))  # a lace under 255 ends its packet
_TWO_OR_MORE = bytes(int(lace >= 2) for lace in range(256))
_OPUS_HEAD = 19  # bytes of the OpusHead packet that matter here


def opus_seconds(data: bytes) -> float | None:
    """The length of the Opus audio in an Ogg file, counted from its packets: what a decoder
    plays, whatever the pages' granule positions claim. None when ``data`` holds no Opus
    stream. Streams that follow one another are added up; a last page cut short, and anything
    after the pages, is not audio a decoder would play.

    Packets are counted a page at a time with the standard library's C loops (``compress``,
    ``map``, ``bytes.translate``): 25 MB of one-byte packets, the most work a file can ask for,
    take about a second, where a Python loop over the packets took twelve."""
    padded = data + b"\x00"  # a code 3 packet's count byte is read even when it has none
    streams: dict[int, _OpusStream] = {}
    position = 0
    while data.startswith(_OGG, position) and position + 27 <= len(data):
        count = data[position + 26]
        body = position + 27 + count
        table = data[position + 27 : body]
        end = body + sum(table)
        if len(table) < count or end > len(data):
            break
        serial = int.from_bytes(data[position + 14 : position + 18], "little")
        stream = streams.setdefault(serial, _OpusStream())
        if stream.packets < 2 or stream.start:  # its headers: packet by packet
            offset = body
            for lace in table:
                stream.take(data, offset, lace)
                offset += lace
        elif stream.pre_skip is not None and table:
            stream.samples += _page_samples(padded, body, table, stream.continued)
            stream.continued = table[-1] == 255
        position = end
    opus = [s for s in streams.values() if s.pre_skip is not None]
    if not opus:
        return None
    return sum(max(s.samples - (s.pre_skip or 0), 0) for s in opus) / _OPUS_RATE


class _OpusStream:
    """One logical stream as its pages are read: its first packets whole (the OpusHead), then
    only what the audio packets' lengths need."""

    def __init__(self) -> None:
        self.packets = 0  # packets ended so far, while they are read one by one
        self.start = bytearray()  # the first bytes of the packet being read one by one
        self.pre_skip: int | None = None  # from the OpusHead: an Opus stream
        self.samples = 0
        self.continued = False  # the last page read ended inside a packet already counted

    def take(self, data: bytes, offset: int, lace: int) -> None:
        if len(self.start) < _OPUS_HEAD:
            self.start += data[offset : offset + min(lace, _OPUS_HEAD - len(self.start))]
        if lace == 255:  # the packet goes on in the next segment
            return
        packet, self.start = bytes(self.start), bytearray()
        number, self.packets = self.packets, self.packets + 1
        if number == 0:
            if packet.startswith(b"OpusHead") and len(packet) >= 12:
                self.pre_skip = int.from_bytes(packet[10:12], "little")
        elif number >= 2 and self.pre_skip is not None and packet:  # after OpusTags
            self.samples += _page_samples(packet + b"\x00", 0, bytes([len(packet)]), False)


def _page_samples(data: bytes, body: int, table: bytes, continued: bool) -> int:
    """Samples in the packets that begin in a page whose segments start at ``body``, each
    packet counted where it begins (RFC 6716, section 3.1)."""
    starts = list(accumulate(table[:-1], initial=body))  # where each segment begins
    begins = (b"\x00" if continued else b"\x01") + table[:-1].translate(_ENDS_PACKET)
    # Packets that begin here and are not empty: their first segment is not.
    firsts = bytes(map(mul, begins, table))
    packets = list(compress(starts, firsts))
    tocs = bytes(map(data.__getitem__, packets))
    samples = sum(map(_SAMPLES_OF.__getitem__, tocs))
    threes = tocs.translate(_CODE_3)
    if 1 in threes:
        at = list(compress(packets, threes))
        counts = bytes(map(data.__getitem__, map(add, at, repeat(1)))).translate(_COUNT)
        # A one-byte packet has no count byte: what was read there is the next packet's.
        whole = bytes(compress(bytes(compress(table, firsts)), threes)).translate(_TWO_OR_MORE)
        frames = map(_FRAME_OF.__getitem__, compress(tocs, threes))
        samples += sum(map(mul, map(mul, counts, whole), frames))
    return samples
