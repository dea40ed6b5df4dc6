"""data.json parsed in a second process while the bot's process imports its SDKs.

With 100 000 users, reading data.json is about half of the Telegram bot's start, and importing
Telethon and the OpenAI SDK most of the other half; both are Python work, which one process does
one after the other. ``Preload.start``, called before those imports, forks a child that reads
and parses data.json (``format.parse``, the store's own parser) on another core and leaves the
result in an anonymous memory file, in ``marshal``'s format (about a fifth of the time of the
parse to read back). The store then takes it (``contents``) only when the child parsed exactly
the bytes the store has just read, under its lock (a SHA-256 of both): a file that changed in
between (another bot stopping and rewriting it), a child that failed (a damaged file, whose
error the store's own parse then reports) or anything unexpected means the store parses the
file itself, as without a preload. So a preload changes when data.json is parsed, never what.

Only where it can pay: Linux (fork and memfd), two cores or more, and a file of at least
``MINIMUM`` bytes (a small file parses in less time than a fork takes).

Dates do not travel through ``marshal``: an account's last request comes back as ISO text in its
fields, turned back into a date when the account is first built (``format.Accounts``), so that
reading the result back does not build 100 000 dates.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import os
import signal
from pathlib import Path
from typing import Any, Self

import attrs

from adapters.storage.json import format as fmt
from core.values import Totals

MINIMUM = 1 << 20  # bytes of data.json below which no child is started
_FORMAT = 1  # of the marshalled result: a child and its parent run the same code


@attrs.define
class Preload:
    """A child parsing ``path``; ``contents`` waits for it, ``discard`` stops it."""

    path: Path
    _pid: int
    _fd: int  # the memory file the child writes its result to
    _open: bool = True

    @classmethod
    def start(cls, path: Path, minimum: int | None = None) -> Self | None:
        """A child parsing ``path``, or None where a preload does not pay (see the module;
        ``minimum``: instead of ``MINIMUM``). Call it before any thread is started: a child
        is forked."""
        if not (hasattr(os, "fork") and hasattr(os, "memfd_create")) or _cores() < 2:
            return None
        try:
            if os.stat(path).st_size < (MINIMUM if minimum is None else minimum):
                return None
            fd = os.memfd_create("gptbot-data-json", os.MFD_CLOEXEC)
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(fd)
            return None
        if pid == 0:  # the child: parse, write, and leave without running the parent's exits
            status = 1
            try:
                _parse_into(path, fd)
                status = 0
            finally:
                os._exit(status)
        return cls(path, pid, fd)

    def contents(self, data: bytes) -> fmt.Contents | None:
        """What the child parsed, when it parsed exactly ``data``; None otherwise (parse
        ``data`` then). Waits for the child; once only."""
        if not self._open:
            return None
        self._open = False
        try:
            _, status = os.waitpid(self._pid, 0)
            if status != 0:
                return None
            os.lseek(self._fd, 0, os.SEEK_SET)
            with os.fdopen(self._fd, "rb", closefd=False) as result:
                version, digest, portable = marshal.loads(result.read())
            if version != _FORMAT or digest != hashlib.sha256(data).digest():
                return None
            return _from_portable(portable)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        finally:
            os.close(self._fd)

    def discard(self) -> None:
        """Stop the child and let its result go (a start that will not open the store)."""
        if not self._open:
            return
        self._open = False
        with contextlib.suppress(OSError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self._pid, 0)
        os.close(self._fd)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _parse_into(path: Path, fd: int) -> None:
    logging.disable(logging.CRITICAL)  # what the parse has to say, the store's own says again
    data = path.read_bytes()
    contents = fmt.parse(data)
    blob = marshal.dumps((_FORMAT, hashlib.sha256(data).digest(), _portable(contents)))
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view) :]


def _portable(contents: fmt.Contents) -> tuple[Any, ...]:
    """``contents`` in the types ``marshal`` writes: the accounts' fields with their dates as
    ISO text (ValueError for anything else, such as an account already built)."""
    entries: dict[str, tuple[object, ...]] = {}
    at = fmt.LAST_REQUEST
    for user_id, fields in contents.accounts.raw():
        if type(fields) is not tuple:
            raise ValueError("an account was built while parsing")
        last = fields[6]  # LAST_REQUEST: a date or None
        if last is None:
            entries[user_id] = fields
        else:
            entries[user_id] = (*fields[:at], last.isoformat(), *fields[at + 1 :])
    totals = (contents.totals.requests, contents.totals.tokens)
    return entries, contents.extras, totals, contents.global_extra, contents.top_extra


def _from_portable(portable: tuple[Any, ...]) -> fmt.Contents:
    entries, extras, (requests, tokens), global_extra, top_extra = portable
    return fmt.Contents(
        accounts=fmt.Accounts(entries),  # dates as text: see ``format.Accounts``
        extras=extras,
        totals=Totals(requests=requests, tokens=tokens),
        global_extra=global_extra,
        top_extra=top_extra,
    )
