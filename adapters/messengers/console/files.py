"""Files as the console's media: a file named on the command line becomes an ``Attachment``
whose ``ref`` is its absolute path, and the bot's pictures and voice notes become files.

The console's operator is the person at the keyboard, so any file they can read may be sent.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from pathlib import Path

from adapters.media.headers import (
    HEAD_BYTES,
    TAIL_BYTES,
    describe_size,
    ogg_seconds,
    picture_mime,
    picture_size,
)
from core.errors import MediaTooLarge, MediaUnavailable
from core.values import Attachment, MediaKind, Picture, VoiceNote

# Python's own table, not the system's (/etc/mime.types differs between machines), completed
# with the types it lacks. Voice notes are audio/ogg, as Telegram sends them.
_MIMES = mimetypes.MimeTypes()
_MORE_MIMES = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
    ".webp": "image/webp",
    ".md": "text/markdown",
}
_OGG_SUFFIXES = {".ogg", ".oga", ".opus"}
# The pictures a messenger shows as photos; other images travel as files.
PHOTO_MIMES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
_SUFFIX_OF = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


class NotSent(Exception):
    """A file that cannot be sent as asked; the message says why, for the console to print."""


def guess_mime(path: Path, head: bytes) -> str | None:
    suffix = path.suffix.lower()
    return _MORE_MIMES.get(suffix) or _MIMES.guess_type(path.name)[0] or picture_mime(head)


def attachment_for(path: Path, command: str) -> Attachment:
    """The attachment ``:voice``, ``:photo`` or ``:file`` sends for ``path``; NotSent when the
    file is missing, unreadable or not of that kind. ``:file`` sends pictures and recordings
    as a messenger does (as pictures and voice), anything else as a document."""
    try:
        path = Path(os.path.abspath(path.expanduser()))  # "..", "." out; symlinks kept as named
    except RuntimeError as exc:  # "~nobody/x": no such user's home
        raise NotSent(f"Cannot find {path}: {exc}. Nothing was sent.") from None
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise NotSent(f"{path} is not a file.")
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
            tail = b""
            if path.suffix.lower() in _OGG_SUFFIXES:
                file.seek(max(size - TAIL_BYTES, 0))
                tail = file.read()
    except FileNotFoundError:
        raise NotSent(f"No file {path}: nothing was sent.") from None
    except OSError as exc:
        raise NotSent(f"Cannot read {path}: {exc.strerror or exc}. Nothing was sent.") from None
    except ValueError as exc:  # a NUL in the path
        raise NotSent(f"Cannot read {path!r}: {exc}. Nothing was sent.") from None
    mime = guess_mime(path, head)
    audio = (mime or "").startswith("audio/")
    if command == "photo" and mime not in PHOTO_MIMES:
        raise NotSent(f"{path.name} is not a picture (PNG, JPEG, WebP, GIF): send it with :file.")
    if command == "voice" and not audio:
        raise NotSent(f"{path.name} is not a recording (.ogg, .opus, .mp3...): try :file.")
    if command == "photo" or (command == "file" and mime in PHOTO_MIMES):
        width, height = picture_size(head) or (None, None)
        return Attachment(
            MediaKind.IMAGE, str(path), mime, path.name, size, width=width, height=height
        )
    if audio:
        duration = ogg_seconds(head, tail) if tail else None
        return Attachment(MediaKind.VOICE, str(path), mime, path.name, size, duration=duration)
    return Attachment(MediaKind.DOCUMENT, str(path), mime, path.name, size)


def describe(attachment: Attachment) -> str:
    """One line about an attachment for the transcript: kind, where, what is known of it."""
    facts = [attachment.mime or "unknown type"]
    if attachment.width and attachment.height:
        facts.append(f"{attachment.width}×{attachment.height}")
    if attachment.duration is not None:
        facts.append(f"{attachment.duration:.1f} s")
    if attachment.size is not None:
        facts.append(describe_size(attachment.size))
    return f"[{attachment.kind.value} {attachment.ref}, {', '.join(facts)}]"


def read_limited(attachment: Attachment, limit: int) -> bytes:
    """The bytes of the file at ``attachment.ref`` (``core.ports.MediaSource.fetch``): its size
    checked before reading, and while reading in case it grew meanwhile."""
    path = Path(attachment.ref)
    if not path.is_absolute():
        raise MediaUnavailable(f"not a console file: {attachment.ref!r}")
    try:
        size = path.stat().st_size
        if max(size, attachment.size or 0) > limit:
            raise MediaTooLarge(f"{path} has {size:,} bytes, more than {limit:,}")
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise MediaUnavailable(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise MediaTooLarge(f"{path} grew past {limit:,} bytes")
    return data


def save_picture(directory: Path, message_id: str, picture: Picture) -> Path:
    """Write ``picture`` as ``<message_id>.<ext>`` in ``directory``, whole or not at all."""
    return _save(directory, message_id + _SUFFIX_OF.get(picture.mime, ".bin"), picture.data)


def save_voice(directory: Path, message_id: str, voice: VoiceNote) -> Path:
    """Write ``voice`` as ``<message_id>.ogg`` in ``directory``, whole or not at all."""
    return _save(directory, message_id + ".ogg", voice.data)


def _save(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``name`` in ``directory``: a temporary file renamed into place."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        # What people asked for is theirs: a directory made before this rule is tightened now.
        directory.chmod(0o700)
    target = directory / name
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".saving-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
