"""The tests' own media: the files are what they claim to be, checked by other programs."""

from __future__ import annotations

import re
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.media import ogg_opus_seconds, png, png_size, require, speech_ogg


def test_a_voice_note_is_ogg_opus_mono_and_as_long_as_opusinfo_says(tmp_path: Path) -> None:
    note = speech_ogg("The quick brown fox jumps over the lazy dog.", tmp_path / "fox.ogg")
    require("opusinfo")  # from opus-tools, like opusenc: an independent reading of the file
    info = subprocess.run(
        ["opusinfo", str(note)], capture_output=True, text=True, check=True, timeout=30
    ).stdout

    assert "type opus" in info
    assert "Channels: 1" in info
    minutes, seconds = re.search(r"Playback length: (\d+)m:([\d.]+)s", info).groups()  # type: ignore[union-attr]
    assert ogg_opus_seconds(note.read_bytes()) == pytest.approx(
        int(minutes) * 60 + float(seconds), abs=0.002
    )
    assert 1.5 < ogg_opus_seconds(note.read_bytes()) < 6


def test_longer_speech_lasts_longer(tmp_path: Path) -> None:
    short = speech_ogg("Hello.", tmp_path / "short.ogg")
    long = speech_ogg("Hello. " * 8, tmp_path / "long.ogg")
    assert ogg_opus_seconds(long.read_bytes()) > 3 * ogg_opus_seconds(short.read_bytes())


def test_a_damaged_voice_note_has_no_length(tmp_path: Path) -> None:
    note = speech_ogg("Hello.", tmp_path / "hello.ogg").read_bytes()
    with pytest.raises(ValueError, match="Ogg page"):
        ogg_opus_seconds(b"X" + note[1:])
    with pytest.raises(ValueError, match="cut short"):
        ogg_opus_seconds(note[: len(note) // 2])
    with pytest.raises(ValueError, match="Opus"):
        ogg_opus_seconds(b"")


def test_a_png_decodes_to_its_pixels(tmp_path: Path) -> None:
    data = png(3, 2, tmp_path / "x.png", rgb=(1, 2, 3)).read_bytes()

    assert png_size(data) == (3, 2)
    length = int.from_bytes(data[33:37], "big")
    assert data[37:41] == b"IDAT"
    assert zlib.decompress(data[41 : 41 + length]) == (b"\x00" + b"\x01\x02\x03" * 3) * 2
    assert data.endswith(b"IEND\xae\x42\x60\x82")  # the fixed CRC of an empty IEND chunk
