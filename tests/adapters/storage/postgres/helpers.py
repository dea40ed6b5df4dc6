"""Small things the PostgreSQL tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import attrs

from core.values import Account, Totals


def charge(cost: int) -> Callable[[Account], Account]:
    """A settlement of ``cost`` tokens, as the core makes one."""

    def apply(current: Account) -> Account:
        return attrs.evolve(
            current,
            balance=current.balance - cost,
            requests=current.requests + 1,
            tokens=current.tokens + cost,
        )

    return apply


def count_in(cost: int) -> Callable[[Totals], Totals]:
    """The totals' side of a settlement of ``cost`` tokens."""
    return lambda t: Totals(requests=t.requests + 1, tokens=t.tokens + cost)


def start_worker(*args: str) -> subprocess.Popen[str]:
    """A process of tests/adapters/storage/postgres/worker.py, its output readable line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.storage.postgres.worker", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
