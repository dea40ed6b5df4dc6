"""Crash-safe file writing, and keeping a copy of a file that cannot be trusted."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from core.errors import CorruptData

FILE_MODE = 0o600


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old file or the new one.

    The temporary file lives in the same folder (``os.replace`` is atomic only within one file
    system), is fsynced before the rename, and the folder is fsynced after it so the rename
    itself survives a power cut.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
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
