"""A voice note's waveform from its Opus packets: real speech (espeak-ng, opusenc) with a pause,
and files that hold no Opus at all."""

from __future__ import annotations

from pathlib import Path

from adapters.media.headers import opus_seconds
from adapters.media.waveform import HEIGHT, opus_packet_sizes, waveform
from tests.media import speech_ogg

FRAME = 0.02  # opusenc's packets hold 20 ms each


def test_speech_rises_and_a_pause_falls(tmp_path: Path) -> None:
    data = speech_ogg(
        "Hello there. [[ ]] ... ... ... Hello again.", tmp_path / "a.ogg"
    ).read_bytes()
    sizes = opus_packet_sizes(data)
    seconds = opus_seconds(data)
    assert seconds is not None
    assert abs(len(sizes) * FRAME - seconds) <= FRAME  # every audio packet, no header
    bars = waveform(data)
    assert len(bars) == 100
    assert max(bars) == HEIGHT
    assert min(bars) <= 5  # the pause
    assert bars[0] < HEIGHT // 2 or bars[-1] < HEIGHT // 2 or min(bars[20:80]) <= 5


def test_no_opus_draws_a_flat_line() -> None:
    assert opus_packet_sizes(b"not an ogg file") == []
    assert waveform(b"not an ogg file", bars=10) == bytes(10)
    vorbis = b"OggS\x00\x02" + bytes(20) + b"\x01\x1e" + b"\x01vorbis" + bytes(22)
    assert opus_packet_sizes(vorbis) == []
