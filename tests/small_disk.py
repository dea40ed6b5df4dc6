"""A real full disk for tests: a size-limited tmpfs, where this machine lets us mount one."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "300k") -> Iterator[Path]:
    """``folder`` with a tmpfs of ``size`` mounted on it; skips the test where mounting fails
    (not root, or in a container that forbids it)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the disk of ``folder`` until about ``leave`` bytes are free; delete it for space."""
    filler = folder / "filler"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    # Unbuffered: a write that finds the disk fuller than measured (another process wrote
    # meanwhile) stops short, or fails with ENOSPC, and leaves no buffer to flush on close.
    with filler.open("ab", buffering=0) as file:
        try:
            file.write(b"\0" * max(free - leave, 0))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
