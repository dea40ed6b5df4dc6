"""Small things the PostgreSQL tests share."""

from __future__ import annotations

import os
import subprocess
import sys


def start_worker(*args: str) -> subprocess.Popen[str]:
    """A process of tests/adapters/storage/postgres/worker.py, its output readable line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.storage.postgres.worker", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
