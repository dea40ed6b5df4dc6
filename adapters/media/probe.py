"""What media bytes really are, read by decoders before anything is held or charged
(``core.ports.MediaProbe``): a file named ``.png`` that holds text is no picture, and a voice
note declared as one second is as long as its audio.

Pictures are opened by Pillow, which knows each format by its content: the header parsed,
PNG's every chunk checked against its CRC (``verify``), a JPEG decoded at an eighth of its
size (cheap: the picture's data is all read, few pixels are made). WebP and GIF are checked as
far as their headers. Pixels are never decoded at full size: a 10 MB PNG may hold a billion.

Recordings: Ogg/Opus (Telegram's voice notes) is measured by counting its packets
(``headers.opus_seconds``): the pages' granule positions are the sender's word, the packets are
what a decoder plays. Other formats (MP3, M4A, WAV, FLAC, Ogg Vorbis) are recognised and
measured by mutagen from their headers and frames. A format measured by neither is refused.

Considered: Pillow against imagesize and puremagic (headers and magic numbers only: a text file
after a JPEG's first bytes passes them), and our own PNG/JPEG parsers (a decoder someone else
maintains knows the corner cases); mutagen against tinytag (similar, fewer formats checked by
content), soundfile (libsndfile and NumPy, decodes everything) and PyOgg (unmaintained).
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import warnings

import attrs

from adapters.media.headers import opus_seconds

log = logging.getLogger(__name__)

_PICTURE_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_DRAFT = (1, 1)  # asks the JPEG decoder for its smallest scale, an eighth


@attrs.frozen
class DecoderProbe:
    """Implements ``core.ports.MediaProbe`` with Pillow, mutagen and our Ogg reader, each in a
    worker thread (a picture's checks take tens of milliseconds)."""

    async def picture(self, data: bytes) -> str | None:
        return await asyncio.to_thread(picture_type, data)

    async def recording(self, data: bytes) -> float | None:
        return await asyncio.to_thread(recording_seconds, data)


def picture_type(data: bytes) -> str | None:
    """The type of the picture in ``data`` (PNG, JPEG, WebP, GIF), None when it is not one."""
    # Imported here: a bot that is never sent a picture does not load Pillow.
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Past Pillow's pixel count for a "decompression bomb" it warns, then refuses:
            # a picture that large is refused here either way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_PICTURE_FORMATS)) as image:
                kind = _PICTURE_FORMATS[str(image.format)]
                image.verify()
            if kind == "image/jpeg":
                with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                    image.draft(image.mode, _DRAFT)
                    image.load()
    except Exception as exc:  # Pillow's many kinds of "not a picture" all mean the same here
        log.info("not a picture: %r", exc)
        return None
    return kind


# mutagen's formats that transcription servers take (OpenAI's list: mp3, mp4, m4a, wav, flac,
# ogg, webm); its Ogg Opus reader is left out: Opus is measured by its packets.
def _audio_kinds() -> list[type]:
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggflac import OggFLAC
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    return [MP3, MP4, FLAC, OggFLAC, OggVorbis, WAVE]


def recording_seconds(data: bytes) -> float | None:
    """The seconds of sound in ``data``, measured from its content; None when it is not a
    recording of a format measured here, or holds no sound."""
    seconds = opus_seconds(data)
    if seconds is None:
        import mutagen

        try:
            found = mutagen.File(io.BytesIO(data), options=_audio_kinds())
        except Exception as exc:  # mutagen's errors for a damaged file, and struct's, alike
            log.info("not a recording: %r", exc)
            return None
        seconds = None if found is None else getattr(found.info, "length", None)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return float(seconds)
