"""Matrix media messages as the core's ``Attachment``: what an event carries, described before
any download (no SDK).

``m.audio`` is VOICE (a voice note has ``org.matrix.msc3245.voice``; an audio file is
transcribed the same way, as on Telegram), ``m.image`` in a format vision models take is IMAGE,
``m.file`` and any other picture are DOCUMENT. Videos, stickers, locations and media without a
content-repository URI (an encrypted file) are ``UNSUPPORTED``: the adapter answers those itself.
The attachment's ``ref`` is the ``mxc://`` URI: the file stays fetchable by it as long as the
homeserver keeps it, so a picture earlier in a thread needs no event lookup.

A media event's ``body`` is the file's name unless a ``filename`` field is there too and
differs from it (MSC2530): then ``body`` is the caption, the person's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.values import Attachment, MediaKind


class _Unsupported:
    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED: Final = _Unsupported()
MEDIA_TYPES: Final = frozenset({"m.image", "m.audio", "m.file", "m.video", "m.location"})
# The pictures vision models take; other images (SVG, HEIC...) go to the document reader.
PICTURE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
VOICE_FLAG: Final = "org.matrix.msc3245.voice"
_EXTENSIBLE_AUDIO: Final = "org.matrix.msc1767.audio"
# The transcription server tells the format by the name's end; a voice note's body is words.
_VOICE_NAMES: Final = {
    "audio/ogg": "voice.ogg",
    "audio/mpeg": "voice.mp3",
    "audio/mp4": "voice.m4a",
    "audio/x-m4a": "voice.m4a",
    "audio/wav": "voice.wav",
    "audio/x-wav": "voice.wav",
    "audio/webm": "voice.webm",
    "audio/flac": "voice.flac",
}


def caption(content: Mapping[str, Any]) -> str:
    """The person's words with a media event: its ``body`` when it is a caption, else ""."""
    body, filename = content.get("body"), content.get("filename")
    if isinstance(body, str) and isinstance(filename, str) and body != filename:
        return body
    return ""


def describe(content: Mapping[str, Any]) -> Attachment | _Unsupported:
    """The attachment of a media event's ``content`` (``msgtype`` in ``MEDIA_TYPES``)."""
    msgtype = content.get("msgtype")
    url = content.get("url")
    if msgtype not in {"m.image", "m.audio", "m.file"} or not isinstance(url, str) or not _mxc(url):
        return UNSUPPORTED
    info = content.get("info")
    info = info if isinstance(info, Mapping) else {}
    mime = _text(info.get("mimetype"))
    mime = mime.lower() if mime else None
    name = _text(content.get("filename")) or _text(content.get("body"))
    size = _count(info.get("size"))
    if msgtype == "m.audio":
        return Attachment(
            MediaKind.VOICE,
            url,
            mime=mime,
            name=_voice_name(content, name, mime),
            size=size,
            duration=_duration(content, info),
        )
    if msgtype == "m.image" and mime in PICTURE_TYPES:
        return Attachment(
            MediaKind.IMAGE,
            url,
            mime=mime,
            name=name,
            size=size,
            width=_count(info.get("w")),
            height=_count(info.get("h")),
        )
    return Attachment(MediaKind.DOCUMENT, url, mime=mime, name=name, size=size)


def _mxc(url: str) -> bool:
    return url.startswith("mxc://") and len(url) <= 1_000


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _count(value: object) -> int | None:
    """A size or a length in pixels as a client sent it: a whole, non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _voice_name(content: Mapping[str, Any], name: str | None, mime: str | None) -> str:
    # A voice note's body is "Voice message", not a file name the server could go by.
    has_extension = name is not None and "." in name[-6:]
    if VOICE_FLAG in content or not has_extension:
        return _VOICE_NAMES.get(mime or "", "voice.ogg")
    return str(name)


def _duration(content: Mapping[str, Any], info: Mapping[str, Any]) -> float | None:
    """Seconds of the recording as the client declared them (milliseconds in the event)."""
    extensible = content.get(_EXTENSIBLE_AUDIO)
    candidates = [info.get("duration")]
    if isinstance(extensible, Mapping):
        candidates.append(extensible.get("duration"))
    for value in candidates:
        millis = _count(value)
        if millis is not None:
            return millis / 1_000
    return None
