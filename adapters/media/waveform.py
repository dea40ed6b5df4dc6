"""A voice note's waveform, read from its Ogg/Opus packets without decoding them.

Messengers draw a voice note as a row of bars (Telegram: 100 values of 5 bits). Decoding the
audio to measure its loudness would need libopus; the size of each packet is a good stand-in:
a VBR Opus encoder spends few bytes on silence (a pause costs a handful of bytes a packet) and
many on speech, so the bars rise and fall with the voice. Each bar is the mean packet size of
its stretch of the recording, scaled so that the fullest stretch is the tallest bar.
"""

from __future__ import annotations

_OGG = b"OggS"
_HEADER = 27  # bytes of an Ogg page header before its segment table
HEIGHT = 31  # the tallest bar: 5 bits


def opus_packet_sizes(data: bytes) -> list[int]:
    """The sizes in bytes of the audio packets of the first Opus stream in ``data``, in order
    (its two header packets left out); empty when ``data`` holds no Ogg/Opus stream."""
    sizes: list[int] = []
    serial: bytes | None = None
    packet = 0  # bytes of the packet being read, across segments and pages
    position = 0
    while position + _HEADER <= len(data) and data.startswith(_OGG, position):
        segments = data[position + 26]
        table = data[position + _HEADER : position + _HEADER + segments]
        body = position + _HEADER + segments
        if len(table) < segments:
            break
        page_serial = data[position + 14 : position + 18]
        if serial is None:
            serial = page_serial
            if not data.startswith(b"OpusHead", body):
                return []
        if page_serial == serial:
            for lace in table:
                packet += lace
                if lace < 255:
                    sizes.append(packet)
                    packet = 0
        position = body + sum(table)
    return sizes[2:]  # after OpusHead and OpusTags


def waveform(data: bytes, bars: int = 100) -> bytes:
    """``bars`` values from 0 to ``HEIGHT`` drawing the Ogg/Opus recording in ``data``; all
    zero when it holds no audio packets."""
    sizes = opus_packet_sizes(data)
    if not sizes:
        return bytes(bars)
    means = []
    for bar in range(bars):
        start = bar * len(sizes) // bars
        stretch = sizes[start : max((bar + 1) * len(sizes) // bars, start + 1)]
        means.append(sum(stretch) / len(stretch))
    quiet, loud = min(means), max(means)
    if loud == quiet:
        return bytes([HEIGHT // 2] * bars)
    return bytes(round(HEIGHT * (mean - quiet) / (loud - quiet)) for mean in means)
