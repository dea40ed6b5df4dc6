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

Both SDKs import aiohttp whenever it is installed (the Matrix extra brings it), for features
this bot never uses: Telethon to download "web documents", the OpenAI SDK for a transport of
its own. That was a tenth of the Telegram bot's start. ``unused_kept_out`` keeps it out while
they load (the Telegram entrypoint's imports, ``build_bot``); afterwards anything may import it
as usual, and the Matrix bot, whose client needs it, has it imported before.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.storage.json.preload import Preload

# Installed for some processes, imported by the SDKs for features the bot never uses.
UNUSED = ("aiohttp",)
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


@contextlib.contextmanager
def unused_kept_out(names: tuple[str, ...] = UNUSED) -> Iterator[None]:
    """In the block, importing one of ``names`` not imported yet fails as if it were not
    installed (what an optional import expects); after it, they import as usual."""
    kept = [name for name in names if name not in sys.modules]
    for name in kept:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        for name in kept:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def preloaded(env: Mapping[str, str]) -> Preload | None:
    """For a bot on data.json, the file parsed in a second process while this one imports the
    bot (``adapters.storage.json.preload``), or None. Call it first, before those imports."""
    from adapters.storage.json.preload import Preload
    from entrypoints.settings import ConfigError, settings_from

    try:
        settings = settings_from(env)
    except ConfigError:
        return None  # the entrypoint reports it
    if settings.database_url is not None:
        return None
    return Preload.start(settings.data_file)
