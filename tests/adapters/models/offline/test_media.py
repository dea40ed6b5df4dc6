"""The offline transcriber, image maker and model on real media files, and the headers they
read."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from adapters.media.headers import ogg_seconds, picture_size
from adapters.models.offline.chat import OfflineModel, compose_answer
from adapters.models.offline.media import OfflineImageMaker, OfflineTranscriber, pattern_png
from core.ports import ImageMaker, Transcriber
from core.tokens import CharTokenCounter
from core.values import Image, ModelRequest, Role, Turn
from tests.adapters.media_files import jpeg_head, voice_note


def png_rows(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw rows of a PNG, every chunk's CRC checked on the way."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, idat, size = 8, b"", (0, 0)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"  # 8-bit RGB
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert kind == b"IEND"
    return size[0], size[1], zlib.decompress(idat)


async def test_the_image_maker_draws_a_valid_png_of_the_description() -> None:
    maker: ImageMaker = OfflineImageMaker()  # mypy checks that it fits the port
    cat = await maker.make("a red cat")
    again = await maker.make("  A red   CAT ")
    dog = await maker.make("a dog")
    await maker.close()

    width, height, rows = png_rows(cat.data)
    assert (width, height, cat.mime) == (256, 256, "image/png")
    assert len(rows) == height * (1 + 3 * width)
    assert all(rows[y * (1 + 3 * width)] == 0 for y in range(height))  # filter bytes
    pixels = {rows[i : i + 3] for i in range(1, 1 + 3 * width, 3)}
    assert len(pixels) > 10  # a picture, not a blank
    assert again.data == cat.data  # the same description, the same picture
    assert png_rows(dog.data)[2] != rows
    assert picture_size(cat.data) == (256, 256)


async def test_the_transcriber_says_how_long_the_recording_is(tmp_path: Path) -> None:
    note = voice_note(tmp_path, 3.2)
    transcriber: Transcriber = OfflineTranscriber()

    transcript = await transcriber.transcribe(
        note.read_bytes(), name="voice.ogg", mime="audio/ogg", language="en"
    )

    assert transcript.seconds == 3.2
    assert transcript.text.startswith("(offline transcriber: a 3.2 s recording, voice.ogg")


async def test_the_transcriber_says_what_it_got_when_the_length_is_unknown() -> None:
    transcript = await OfflineTranscriber().transcribe(
        b"ID3" + bytes(12_000), name="/tmp/talk.mp3", mime="audio/mpeg", language=None
    )

    assert transcript.seconds is None
    assert "a recording of 12.0 KB, talk.mp3" in transcript.text


def test_ogg_length_needs_a_whole_ogg_header(tmp_path: Path) -> None:
    data = voice_note(tmp_path, 1.5).read_bytes()

    assert ogg_seconds(data, data) == 1.5
    assert ogg_seconds(data[:20], data) is None  # the first page cut short
    assert ogg_seconds(b"RIFF" + data[4:], data) is None  # not Ogg
    assert ogg_seconds(data, b"no pages here") is None


def test_picture_sizes_from_headers() -> None:
    assert picture_size(jpeg_head(640, 480)) == (640, 480)  # past a 20 KB EXIF block
    assert picture_size(jpeg_head(640, 480)[:1_000]) is None  # the frame header not read
    assert picture_size(b"GIF89a" + bytes(20)) is None


def test_the_offline_model_says_which_pictures_it_received() -> None:
    png = Image(pattern_png("a red cat", 256), "image/png")
    jpeg = Image(jpeg_head(640, 480), "image/jpeg")
    request = ModelRequest(
        turns=(
            Turn(Role.SYSTEM, "be brief"),
            Turn(Role.USER, "look", images=(png,)),
            Turn(Role.ASSISTANT, "a pattern"),
            Turn(Role.USER, "and these?", images=(png, jpeg)),
        ),
        max_tokens=1_000,
    )

    answer = compose_answer(request)

    assert "Turn 1, user: «look» with 1 picture(s): image/png 256×256, 2.1 KB" in answer
    assert (
        "With your message I received 2 picture(s): image/png 256×256, 2.1 KB; "
        "image/jpeg 640×480, 20.0 KB." in answer
    )
    assert "picture" not in compose_answer(
        ModelRequest(turns=(Turn(Role.USER, "hi"),), max_tokens=100)
    )


async def test_the_offline_model_streams_the_pictures_it_received() -> None:
    request = ModelRequest(
        turns=(Turn(Role.USER, "see", images=(Image(jpeg_head(32, 16), "image/jpeg"),)),),
        max_tokens=1_000,
    )
    chunks = [c async for c in OfflineModel(CharTokenCounter()).stream(request)]

    assert "1 picture(s): image/jpeg 32×16" in "".join(c.text for c in chunks)
