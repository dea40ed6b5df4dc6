"""A bot process's start: its modules and data loaded with the cyclic garbage collector paused,
then what they made frozen out of the collector's reach.

Start-up makes hundreds of thousands of objects that live as long as the process and form no
garbage cycles (the SDKs' classes, Telethon's TL types, 100 000 accounts): the collector, which
runs every few hundred allocations, would walk them again and again for nothing, about a fifth
of the start with 100 000 users (``make bench``). Frozen (``gc.freeze``), they are skipped by
every later collection too, so answering does not pay for them either.

A process's ``main`` runs in ``collector_paused``; ``build_bot`` calls ``loaded`` once the
bot is built, which does nothing where the collector was not paused (tests, tools).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_paused = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused until ``loaded``, or until the block ends
    (a start that failed, a command that builds no bot), whichever comes first."""
    global _paused
    pausing = gc.isenabled() and not _paused
    if pausing:
        gc.disable()
        _paused = True
    try:
        yield
    finally:
        if pausing and _paused:
            _paused = False
            gc.enable()


def loaded() -> None:
    """The bot is built: freeze what start-up made and start the collector again, if
    ``collector_paused`` paused it."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
