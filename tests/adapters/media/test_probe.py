"""What media bytes really are: real recordings (opusenc, espeak-ng, WAV), real pictures (PNG
written by hand, JPEG, WebP and GIF by Pillow), and files that only pretend to be either."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from adapters.media.headers import HEAD_BYTES, TAIL_BYTES, ogg_seconds, opus_seconds
from adapters.media.probe import DecoderProbe
from core.ports import MediaProbe
from tests.adapters.media_files import jpeg_head, tone_wav, voice_note
from tests.media import forge_length, ogg_opus_seconds, png_bytes, speech_ogg

PROBE: MediaProbe = DecoderProbe()  # mypy checks that it fits the port
FRAME = 0.02  # opusenc's frames: a measure may differ from the granule's by the last one


def pillow(kind: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(out, kind)
    return out.getvalue()


# -- pictures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png_bytes(64, 48), "image/png"),
        (pillow("JPEG", (640, 480)), "image/jpeg"),
        (pillow("WEBP"), "image/webp"),
        (pillow("GIF"), "image/gif"),
    ],
)
async def test_pictures_are_known_by_their_content(data: bytes, kind: str) -> None:
    assert await PROBE.picture(data) == kind


def _bomb_png() -> bytes:
    """A PNG header claiming 100 000 × 100 000 pixels (30 GB decoded), with a little data."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(header))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Just text in a file named photo.png\n" * 10,
        jpeg_head(640, 480),  # a JPEG's headers and no picture after them
        b"\xff\xd8\xff\xe0" + b"not a JPEG at all" * 100,
        pillow("JPEG", (640, 480))[:2_000],  # cut short
        png_bytes(64, 48)[:-30],  # its data cut, its checksums no longer match
        png_bytes(64, 48).replace(b"IDAT", b"IDAX"),
        _bomb_png(),
        b"GIF89a" + bytes(10),
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20),
        b"%PDF-1.7\n",
    ],
)
async def test_what_only_looks_like_a_picture_is_none(data: bytes) -> None:
    assert await PROBE.picture(data) is None


# -- recordings ------------------------------------------------------------------------------


async def test_a_voice_note_is_measured_by_its_packets(tmp_path: Path) -> None:
    data = speech_ogg("what is the capital of France", tmp_path / "question.ogg").read_bytes()

    seconds = await PROBE.recording(data)

    assert seconds is not None
    assert seconds == pytest.approx(ogg_opus_seconds(data), abs=FRAME)


@pytest.mark.parametrize("length", [0.5, 3.0, 20.0])
async def test_recordings_of_every_length(tmp_path: Path, length: float) -> None:
    data = voice_note(tmp_path, length).read_bytes()

    assert await PROBE.recording(data) == pytest.approx(length, abs=FRAME)


async def test_a_forged_length_does_not_change_the_measure(tmp_path: Path) -> None:
    data = speech_ogg("what is the capital of France", tmp_path / "question.ogg").read_bytes()
    real = ogg_opus_seconds(data)
    forged = forge_length(data, 1.0)

    # What the client (and the pages) declare: one second. What a decoder plays: all of it.
    assert ogg_seconds(forged[:HEAD_BYTES], forged[-TAIL_BYTES:]) == pytest.approx(1.0)
    assert await PROBE.recording(forged) == pytest.approx(real, abs=FRAME)
    assert real > 1.5


async def test_what_follows_the_pages_is_not_audio(tmp_path: Path) -> None:
    data = voice_note(tmp_path, 2.0).read_bytes()

    assert await PROBE.recording(data + b"trailing junk" * 1_000) == pytest.approx(2.0, abs=FRAME)
    # A last page cut short is not played either.
    assert await PROBE.recording(data[:-10]) == pytest.approx(2.0, abs=0.5)


async def test_a_wav_file_is_measured_by_mutagen(tmp_path: Path) -> None:
    data = tone_wav(tmp_path / "tone.wav", 1.5).read_bytes()

    assert await PROBE.recording(data) == pytest.approx(1.5, abs=0.01)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, named voice.ogg\n" * 50,
        png_bytes(8, 8),
        b"OggS" + bytes(100),
        b"ID3\x03\x00\x00\x00\x00\x00\x00",  # a tag with no audio
    ],
)
async def test_what_is_no_recording_is_none(data: bytes) -> None:
    assert await PROBE.recording(data) is None


async def test_an_ogg_file_with_headers_and_no_audio_holds_no_sound(tmp_path: Path) -> None:
    data = voice_note(tmp_path, 1.0).read_bytes()
    # The first two pages: OpusHead, then OpusTags (opusenc gives each a page of its own).
    second = data.find(b"OggS", data.find(b"OggS", 1) + 1)
    headers_only = data[:second]

    assert opus_seconds(headers_only) == 0.0
    assert await PROBE.recording(headers_only) is None


def test_the_most_packets_a_file_can_hold_are_counted_quickly() -> None:
    """5 MB of one-byte Opus packets: the worst case for the counting loop, a fifth of the
    most a recording may be (25 MB take about 2 s). A bound, not a timing: far more than it
    takes on a loaded machine."""
    head = _page(2, [b"OpusHead\x01\x01\x38\x01" + bytes(7)])
    tags = _page(0, [b"OpusTags" + bytes(8)])
    audio = _page(0, [b"\x08"] * 255)  # SILK 20 ms frames, one a packet
    data = head + tags + audio * (5_000_000 // len(audio))
    started = time.process_time()

    seconds = opus_seconds(data)

    assert seconds == pytest.approx((5_000_000 // len(audio)) * 255 * 0.02 - 312 / 48_000)
    assert time.process_time() - started < 10


def _page(kind: int, packets: list[bytes]) -> bytes:
    """An Ogg page of stream 1 holding ``packets`` (each under 255 bytes); no checksum."""
    table = bytes(len(p) for p in packets)
    return (
        b"OggS\x00"
        + bytes([kind])
        + bytes(8)
        + struct.pack("<I", 1)
        + bytes(8)
        + bytes([len(table)])
        + table
        + b"".join(packets)
    )
