"""data.json parsed in a second process while the bot's process imports its SDKs.

With 100 000 users, reading data.json is about half of the Telegram bot's start, and importing
Telethon and the OpenAI SDK most of the other half; both are Python work, which one process does
one after the other. ``Preload.start``, called before those imports, forks a child that reads
and parses data.json (``format.parse``, the store's own parser) on another core and leaves the
result in an anonymous memory file, in ``marshal``'s format (about a fifth of the time of the
parse to read back). The store then takes it (``contents``) only when the child parsed exactly
what the file holds once the store has its lock (a SHA-256 of both): a file that changed in
between (another bot stopping and rewriting it), a child that failed (a damaged file, whose
error the store's own parse then reports) or anything unexpected means the store parses the
file itself, as without a preload. So a preload changes when data.json is parsed, never what.

Only where it can pay: Linux (fork and memfd), two cores or more, and a file of at least
``MINIMUM`` bytes (a small file parses in less time than a fork takes).

The result is a header (the file's SHA-256, everything but the accounts, and the size of each
part) and the accounts in parts of ``PART`` each, read back one after the other: reading it back
never holds more than a part's bytes besides what it builds. Dates do not travel through
``marshal``: an account's last request comes back as whole seconds since 0001-01-01 (every
date data.json holds is whole seconds without a zone), made a date again when the account is
first built (``format.Accounts``), so reading the result back builds no date and holds a smaller
number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import logging
import marshal
import os
import signal
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import attrs

from adapters.storage.json import format as fmt
from core.values import Totals

log = logging.getLogger(__name__)

MINIMUM = 1 << 20  # bytes of data.json below which no child is started
PART = 10_000  # accounts a part of the result holds
_FORMAT = 1  # of the marshalled result: a child and its parent run the same code
_LENGTH = struct.Struct("<Q")  # the header's length, in front of it
_STOPPING = {signal.SIGINT, signal.SIGTERM}


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
        # Until the child has the default action for them, a Ctrl-C or a stop would raise in it
        # and unwind through the parent's code: held back over the fork.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(fd)
            return None
        if pid == 0:  # the child: parse, write, and leave without running the parent's exits
            status = 1
            try:
                for each in _STOPPING:
                    signal.signal(each, signal.SIG_DFL)  # stopped at once, like a C program
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
                _parse_into(path, fd)
                status = 0
            finally:
                os._exit(status)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return cls(path, pid, fd)

    def contents(self, path: Path) -> tuple[fmt.Contents, int] | None:
        """What the child parsed, and the file's size, when it parsed exactly what ``path``
        holds now; None otherwise (read and parse it then). Waits for the child; once only."""
        if not self._open:
            return None
        try:
            _, status = os.waitpid(self._pid, 0)
        except BaseException:  # interrupted (a Ctrl-C): the child is stopped, not left behind
            self.discard()
            raise
        self._open = False
        try:
            if status != 0:
                return None
            with path.open("rb") as now:  # hashed a piece at a time: never all of it in memory
                digest = hashlib.file_digest(now, "sha256").digest()
                size = now.tell()
            (length,) = _LENGTH.unpack(os.pread(self._fd, _LENGTH.size, 0))
            at = _LENGTH.size + length
            version, parsed, sizes, rest = marshal.loads(os.pread(self._fd, length, _LENGTH.size))
            if version != _FORMAT or parsed != digest:
                return None
            entries: dict[str, Any] = {}
            for part in sizes:  # one part's bytes at a time
                entries.update(marshal.loads(os.pread(self._fd, part, at)))
                at += part
            return _from_portable(entries, rest), size
        except Exception as exc:  # whatever it is, the store's own parse is the way on
            log.info("%s: what the child parsed cannot be read back (%r)", path, exc)
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
    entries = _portable(contents.accounts)
    parts = [
        marshal.dumps(dict(itertools.islice(entries, PART)))
        for _ in range(0, len(contents.accounts), PART)
    ]
    totals = (contents.totals.requests, contents.totals.tokens)
    rest = (contents.extras, totals, contents.global_extra, contents.top_extra)
    digest = hashlib.sha256(data).digest()
    header = marshal.dumps((_FORMAT, digest, [len(part) for part in parts], rest))
    for piece in (_LENGTH.pack(len(header)), header, *parts):
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view) :]


def _portable(accounts: fmt.Accounts) -> Iterator[tuple[str, tuple[object, ...]]]:
    """The accounts' fields in the types ``marshal`` writes, dates as seconds (``_seconds``);
    ValueError for anything else, such as an account already built."""
    at = fmt.LAST_REQUEST
    for user_id, fields in accounts.raw():
        if type(fields) is not tuple:
            raise ValueError("an account was built while parsing")
        last = fields[6]  # LAST_REQUEST: a date or None
        if last is None:
            yield user_id, fields
        else:
            yield user_id, (*fields[:at], _seconds(last), *fields[at + 1 :])


def _seconds(date: dt.datetime) -> int:
    """``date`` as whole seconds since 0001-01-01 (``format.date_of`` turns them back);
    ValueError for a date with a zone or a fraction of a second, which data.json never gives."""
    if date.tzinfo is not None or date.microsecond:
        raise ValueError(f"a date the format does not give: {date!r}")
    return (date - fmt.FIRST_DAY) // _SECOND


_SECOND = dt.timedelta(seconds=1)


def _from_portable(entries: dict[str, Any], rest: tuple[Any, ...]) -> fmt.Contents:
    extras, (requests, tokens), global_extra, top_extra = rest
    return fmt.Contents(
        accounts=fmt.Accounts(entries),  # dates as seconds: see ``format.Accounts``
        extras=extras,
        totals=Totals(requests=requests, tokens=tokens),
        global_extra=global_extra,
        top_extra=top_extra,
    )
