"""A bot process's start: its modules and data loaded with the cyclic garbage collector paused,
then what they made frozen out of the collector's reach.

Start-up makes hundreds of thousands of objects that live as long as the process and form no
garbage cycles (the SDKs' classes, Telethon's TL types, 100 000 accounts): the collector, which
runs every few hundred allocations, would walk them again and again for nothing, about a fifth
of the start with 100 000 users (``make bench``). Frozen (``gc.freeze``), they are skipped by
every later collection too, so answering does not pay for them either.

Serving, the collector then starts a collection of the youngest generation after 50 000 new
objects instead of Python's 700: an answer's objects live as long as it takes (seconds), and
with a thousand in flight the default collects hundreds of times a second, walking them all
each time, about a fifth of the bot's own time with 1 000 conversations at once (``make
bench``). Cyclic garbage (rare here) waits a little longer: a few megabytes at most.

A process's ``main`` runs in ``collector_paused``; ``build_bot`` calls ``loaded`` once the
bot is built, which does nothing where the collector was not paused (tests, tools).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# New container objects after which the youngest generation is collected (Python: 700).
YOUNGEST = 50_000
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
        settle_collector()
        gc.enable()


def settle_collector() -> None:
    """What start-up made frozen out of the collector's reach, and the youngest generation
    collected after ``YOUNGEST`` new objects: the collector of a bot that has started."""
    gc.freeze()
    gc.set_threshold(YOUNGEST, *gc.get_threshold()[1:])
