"""Telegram's media objects as the core's ``Attachment``: what a message carries, described
before any download.

A voice note or an audio file is VOICE, a photo or a picture sent as a file is IMAGE, any other
file is DOCUMENT. Stickers, videos, round video notes, GIFs, polls, places, contacts, dice...
are ``UNSUPPORTED``: the adapter answers those itself. A link preview is no media of the person's.
The attachment's ``ref`` is the message id: the chat id comes with each fetch.
"""

from __future__ import annotations

from typing import Any, Final

from telethon.tl import types

from core.values import Attachment, MediaKind


class _Unsupported:
    def __repr__(self) -> str:
        return "UNSUPPORTED"


UNSUPPORTED: Final = _Unsupported()

# The pictures vision models take (OpenAI: PNG, JPEG, WEBP, non-animated GIF). Other image
# files (SVG, HEIC, TIFF...) go to the document reader, which reads SVG as the text it is.
PICTURE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# A voice note has no file name; the transcription server tells the format by the name's end.
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
_NO_MEDIA = (types.MessageMediaEmpty, types.MessageMediaWebPage)


def describe(message_id: int, media: Any) -> Attachment | _Unsupported | None:
    """The attachment of a message with ``media``; None when it carries none (text, a link
    preview); ``UNSUPPORTED`` for media the bot cannot use."""
    if media is None or isinstance(media, _NO_MEDIA):
        return None
    ref = str(message_id)
    if isinstance(media, types.MessageMediaPhoto):
        return _photo(ref, media.photo)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        return _document(ref, media.document)
    return UNSUPPORTED


def largest_size(photo: Any) -> Any:
    """The photo's largest picture size: the one described and downloaded. None when it has
    no full-size picture (only an inline preview)."""
    sizes = [s for s in photo.sizes if isinstance(s, (types.PhotoSize, types.PhotoSizeProgressive))]
    return max(sizes, key=_bytes, default=None)


def has_file(media: Any) -> bool:
    """Whether ``media`` has a file to download (a photo or a document)."""
    if isinstance(media, types.MessageMediaPhoto):
        return isinstance(media.photo, types.Photo) and largest_size(media.photo) is not None
    return isinstance(media, types.MessageMediaDocument) and isinstance(
        media.document, types.Document
    )


def file_size(media: Any) -> int | None:
    """The bytes of the file of ``media`` (``has_file``), None when Telegram did not say."""
    if isinstance(media, types.MessageMediaPhoto):
        return _bytes(largest_size(media.photo))
    return int(media.document.size) or None


def _bytes(size: Any) -> int:
    if isinstance(size, types.PhotoSizeProgressive):
        return max(size.sizes, default=0)
    return int(size.size)


def _photo(ref: str, photo: Any) -> Attachment | _Unsupported:
    # A self-destructing photo arrives without its Photo: there is nothing to fetch.
    size = largest_size(photo) if isinstance(photo, types.Photo) else None
    if size is None:
        return UNSUPPORTED
    return Attachment(
        MediaKind.IMAGE, ref, mime="image/jpeg", size=_bytes(size), width=size.w, height=size.h
    )


def _document(ref: str, document: Any) -> Attachment | _Unsupported:
    attributes = document.attributes or []
    mime = (document.mime_type or "").lower() or None
    name = next(
        (a.file_name for a in attributes if isinstance(a, types.DocumentAttributeFilename)), None
    )
    unusable = (
        types.DocumentAttributeSticker,
        types.DocumentAttributeVideo,
        types.DocumentAttributeAnimated,
        types.DocumentAttributeCustomEmoji,
    )
    if any(isinstance(a, unusable) for a in attributes) or (mime or "").startswith("video/"):
        return UNSUPPORTED
    size = int(document.size) if document.size else None
    audio = next((a for a in attributes if isinstance(a, types.DocumentAttributeAudio)), None)
    if audio is not None or (mime or "").startswith("audio/"):
        return Attachment(
            MediaKind.VOICE,
            ref,
            mime=mime,
            name=name or _VOICE_NAMES.get(mime or "", "voice.ogg"),
            size=size,
            duration=float(audio.duration) if audio is not None and audio.duration else None,
        )
    if mime in PICTURE_TYPES:
        shape = next(
            (a for a in attributes if isinstance(a, types.DocumentAttributeImageSize)), None
        )
        return Attachment(
            MediaKind.IMAGE,
            ref,
            mime=mime,
            name=name,
            size=size,
            width=None if shape is None else shape.w,
            height=None if shape is None else shape.h,
        )
    return Attachment(MediaKind.DOCUMENT, ref, mime=mime, name=name, size=size)
