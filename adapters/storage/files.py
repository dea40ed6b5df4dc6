"""Crash-safe file writing, and keeping a copy of a file that cannot be trusted."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from core.errors import CorruptData

log = logging.getLogger(__name__)

FILE_MODE = 0o600

# What makes a file's written bytes durable. A parameter where it is called, so that a test can
# watch what was on disk when (a power cut cannot be staged in a test; its ordering can).
Fsync = Callable[[int], None]


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temporaries(path: Path) -> None:
    """Delete what a rewrite of ``path`` killed half-way left behind: a full copy of the data
    that nobody would ever clean up. Call only while holding the data file's lock."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
            log.info("removed %s, left by a rewrite that was interrupted", stale)
        except OSError as exc:
            log.warning("cannot remove %s, left by an interrupted rewrite (%s)", stale, exc)


def make_private(path: Path, fd: int | None = None) -> None:
    """Owner-only permissions on an existing file (older versions created some 0644)."""
    try:
        if fd is not None:
            os.fchmod(fd, FILE_MODE)
        elif path.exists():
            path.chmod(FILE_MODE)
    except OSError as exc:
        log.warning("cannot make %s private to its owner (%s)", path, exc)


def write_atomically(path: Path, data: bytes | Iterable[bytes], fsync: Fsync = os.fsync) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old file or the new one.

    The temporary file lives in the same folder (``os.replace`` is atomic only within one file
    system), is fsynced before the rename, and the folder is fsynced after it so the rename
    itself survives a power cut. ``data`` may come in chunks, written as they are produced, so
    a large file is never whole in memory. On any failure (a full disk) the temporary file is
    removed and ``path`` is as it was.
    """
    tmp = temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            for chunk in [data] if isinstance(data, bytes) else data:
                file.write(chunk)
            file.flush()
            fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent, fsync)


def fsync_folder(folder: Path, fsync: Fsync = os.fsync) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def refuse(path: Path, problem: str) -> CorruptData:
    """The error for a file that cannot be used: which file, what is wrong, where a copy is.

    The original is never touched; a copy is kept beside it in case the operator edits or
    replaces the original while trying to fix it.
    """
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    copy = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        shutil.copy2(path, copy)
        kept = f"a copy was kept at {copy}"
    except OSError as exc:
        kept = f"no copy could be made ({exc.strerror or exc})"
    return CorruptData(
        f"{path}: {problem}. The bot will not start with this file and has not changed it; "
        f"{kept}. Fix or move the file, then start the bot again."
    )
