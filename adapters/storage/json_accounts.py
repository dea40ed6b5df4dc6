"""Accounts in data.json, in the format of the bot this project replaces.

    {"global": {"requests": 0, "tokens": 0},
     "123": {"requests": 0, "tokens": 0, "balance": 30000, "name": "John",
             "username": "@johndoe", "last_request": "2021-01-01 00:00:00", "prompt": "..."}}

Older files use ``lastdate`` (``dd.mm.YYYY HH:MM:SS`` or ``dd-mm-YYYY HH:MM:SS``) and a username of
``"None"``; both are read, and written back in the documented form. Keys this code does not know,
in an entry or at the top level, are kept as they are.

Rewriting the whole file on every change is what makes the older bots slow and fragile, so a
save appends one line to a journal beside the file (``data.json.journal``) and fsyncs it; saves
that arrive while a write is running are written together by the next one (group commit). Every
``snapshot_every`` records, and when the store closes, data.json is rewritten atomically (see
``files.write_atomically``) and the journal emptied. On start the journal is replayed over
data.json, so data.json is always in the documented format and nothing acknowledged is lost.

A journal record is one JSON object per line, ``{"users": {"<id>": <entry>}, "global": {...}}``,
with entries in the data.json format; records carry whole values, not increments, so replaying
one twice is harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from adapters.storage.files import FILE_MODE, refuse, write_atomically
from core.errors import StorageError
from core.values import Account, Totals

log = logging.getLogger(__name__)

GLOBAL = "global"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_OLD_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d-%m-%Y %H:%M:%S", DATE_FORMAT)
_KNOWN = frozenset(
    {"requests", "tokens", "balance", "name", "username", "last_request", "lastdate", "prompt"}
)


class _Invalid(Exception):
    """A problem found while reading; becomes CorruptData naming the file."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # called for every object in the file: the common case stays in C
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Invalid(f"the key {key!r} appears twice")
            seen.add(key)
    return result


def _int(entry: dict[str, Any], field: str, where: str, default: int | None = None) -> int:
    value = entry.get(field, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{where}: {field!r} must be a whole number, found {value!r}")
    return value


def _date(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    if len(raw) == 19 and raw[4] == "-":  # the documented format: the fast parser knows it
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
    for form in _OLD_DATE_FORMATS:
        try:
            return dt.datetime.strptime(raw, form)
        except ValueError:
            continue
    return None


def _account(key: str, entry: object) -> tuple[Account, dict[str, Any]]:
    """The account of one entry, and the entry's keys this code does not interpret.

    Start-up time with many users is spent here, so the usual entry (right types, no unknown
    keys) takes a path of plain lookups; anything else gets the checks with precise messages.
    """
    if type(entry) is not dict:
        raise _Invalid(f"user {key}: expected an object, found {entry!r}")
    get = entry.get
    balance, requests, tokens = get("balance"), get("requests", 0), get("tokens", 0)
    if not (type(balance) is int and type(requests) is int and type(tokens) is int):
        where = f"user {key}"
        balance = _int(entry, "balance", where)
        requests = _int(entry, "requests", where, 0)
        tokens = _int(entry, "tokens", where, 0)
    name, username, prompt = get("name"), get("username"), get("prompt")
    for field, value in (("name", name), ("username", username), ("prompt", prompt)):
        if value is not None and type(value) is not str:
            raise _Invalid(f"user {key}: {field!r} must be text, found {value!r}")
    if username in {"None", "@None", ""}:
        username = None
    raw_date = get("last_request", get("lastdate"))
    last = _date(raw_date)
    extra = {} if entry.keys() <= _KNOWN else {k: v for k, v in entry.items() if k not in _KNOWN}
    if raw_date is not None and last is None:
        # An unreadable date is not worth refusing to start: keep it as it was written.
        extra["last_request" if "last_request" in entry else "lastdate"] = raw_date
    account = Account(
        user_id=int(key),
        balance=balance,
        requests=requests,
        tokens=tokens,
        name=name or None,
        username=username.lstrip("@") if username else None,
        last_request=last,
        prompt=prompt or None,
    )
    return account, extra


def _entry(account: Account, extra: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "requests": account.requests,
        "tokens": account.tokens,
        "balance": account.balance,
    }
    if account.name is not None:
        entry["name"] = account.name
    if account.username is not None:
        entry["username"] = "@" + account.username
    if account.last_request is not None:
        entry["last_request"] = account.last_request.strftime(DATE_FORMAT)
    if account.prompt is not None:
        entry["prompt"] = account.prompt
    for key, value in extra.items():
        entry.setdefault(key, value)
    return entry


@attrs.define
class _Contents:
    accounts: dict[int, Account]
    extras: dict[int, dict[str, Any]]
    totals: Totals
    global_extra: dict[str, Any]
    top_extra: dict[str, Any]


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)
_SPACE = re.compile(r"[ \t\n\r]*")
_ENTRY_END = re.compile(r"\}[ \t\n\r]*,")
_SLICE = 1 << 16  # characters decoded at once when loading


def _skip_space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _top_level_pairs(text: str, slice_chars: int = _SLICE) -> Iterator[tuple[str, Any]]:
    """The key/value pairs of the top-level object, decoded a slice at a time.

    Decoding the whole file at once would keep every user's objects alive until the last one is
    read, which costs about 20 MB more with 100 000 users; decoding in slices lets each entry be
    converted and freed in turn. A slice of about ``slice_chars`` characters is cut after a
    ``}`` followed by a comma and decoded as an object of its own. That decodes only when the
    cut is a real boundary between two entries: a cut inside a string leaves the string open,
    and a cut inside an entry leaves a brace unclosed, so neither is valid JSON. When a few
    cuts in a row do not decode, the rest is left to ``_walk``, which goes on one value at a
    time and names the character where a damaged file goes wrong.
    """
    end = len(text)
    at = _skip_space(text, 0)
    if at == end or text[at] != "{":
        raise _Invalid("it must hold a JSON object of users")
    at = _skip_space(text, at + 1)
    after_comma = False
    while at + slice_chars < end:
        part = None
        cut = _ENTRY_END.search(text, at + slice_chars)
        for _ in range(3):  # a "}," inside a string is not a boundary: try the next one
            if cut is None:
                break
            try:
                part = _DECODER.decode("{" + text[at : cut.start() + 1] + "}")
                break
            except (json.JSONDecodeError, _Invalid):
                cut = _ENTRY_END.search(text, cut.end())
        if part is None or cut is None:
            break  # the end is near, or the file is damaged here: the walk finds out which
        yield from part.items()
        at = _skip_space(text, cut.end())
        after_comma = True
    yield from _walk(text, at, after_comma)


def _walk(text: str, at: int, after_comma: bool) -> Iterator[tuple[str, Any]]:
    """The pairs from ``at`` to the end, one value at a time. ``at`` is a key, or the closing
    brace of an empty object (not after a comma: JSON has no trailing commas)."""
    end = len(text)
    if at < end and text[at] == "}" and not after_comma:
        if _skip_space(text, at + 1) != end:
            raise _Invalid(f"it is not valid JSON (extra data at character {at + 1})")
        return
    while True:
        if at >= end or text[at] != '"':
            raise _Invalid(f"it is not valid JSON (a key was expected at character {at})")
        key, at = _DECODER.raw_decode(text, at)
        at = _skip_space(text, at)
        if at >= end or text[at] != ":":
            raise _Invalid(f"it is not valid JSON (':' was expected at character {at})")
        at = _skip_space(text, at + 1)
        value, at = _DECODER.raw_decode(text, at)
        yield key, value
        at = _skip_space(text, at)
        if at < end and text[at] == ",":
            at = _skip_space(text, at + 1)
            continue
        if at < end and text[at] == "}":
            break
        raise _Invalid(f"it is not valid JSON (',' or '}}' was expected at character {at})")
    if _skip_space(text, at + 1) != end:
        raise _Invalid(f"it is not valid JSON (extra data at character {at + 1})")


def _journal_of(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def _lock(fd: int, path: Path) -> None:
    """Hold an exclusive lock on ``fd`` until it is closed (or the process ends, however)."""
    if fcntl is None:  # Windows: no advisory locks here; run one bot per data file
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StorageError(
            f"{path} is in use by another running bot (its journal is locked). Stop that bot, "
            "or give this one its own DATA_FILE."
        ) from None
    except OSError as exc:
        log.warning("%s: cannot lock the journal (%s); run one bot per data file", path, exc)


def _read_text(path: Path) -> str:
    """The file's text; its bytes are dropped on return, before the entries are built."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"it is not valid JSON ({exc})") from exc


def _parse_quickly(text: str) -> _Contents:
    """``_parse`` with the cyclic garbage collector paused.

    Building 100 000 accounts creates hundreds of thousands of objects that all stay alive, and
    the collector would walk them again and again for nothing: pausing it saves about 0.1 s of
    the 0.6 s such a file takes. Nothing built here forms reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(text)
    finally:
        if was_enabled:
            gc.enable()


def _parse(text: str) -> _Contents:
    contents = _Contents({}, {}, Totals(), {}, {})
    document: dict[str, Any] = {}
    try:
        for key, entry in _top_level_pairs(text):
            if key in document or key in contents.top_extra:
                raise _Invalid(f"the key {key!r} appears twice")
            if key == GLOBAL:
                document[GLOBAL] = entry
                continue
            if not key.lstrip("-").isdigit():
                contents.top_extra[key] = entry
                continue
            account, extra = _account(key, entry)
            if account.user_id in contents.accounts:
                raise _Invalid(f"user {account.user_id} appears twice")
            contents.accounts[account.user_id] = account
            if extra:
                contents.extras[account.user_id] = extra
    except json.JSONDecodeError as exc:
        raise _Invalid(f"it is not valid JSON ({exc})") from exc
    if GLOBAL in document:
        totals = document[GLOBAL]
        if not isinstance(totals, dict):
            raise _Invalid(f"'global' must be an object, found {totals!r}")
        where = "'global'"
        contents.totals = Totals(
            requests=_int(totals, "requests", where, 0), tokens=_int(totals, "tokens", where, 0)
        )
        contents.global_extra = {k: v for k, v in totals.items() if k not in _KNOWN}
    else:
        # The totals are a sum over users; rebuilding them loses nothing.
        log.warning("data file has no 'global' entry; rebuilding the totals from the users")
        contents.totals = Totals(
            requests=sum(a.requests for a in contents.accounts.values()),
            tokens=sum(a.tokens for a in contents.accounts.values()),
        )
    return contents


def _serialize(contents: _Contents) -> bytes:
    """data.json, one line per user, so the file stays readable and diffable."""
    lines = [f'"{GLOBAL}": {_dumps(_totals(contents.totals, contents.global_extra))}']
    lines += [f"{_dumps(key)}: {_dumps(value)}" for key, value in contents.top_extra.items()]
    lines += [
        f'"{user_id}": {_dumps(_entry(account, contents.extras.get(user_id, {})))}'
        for user_id, account in contents.accounts.items()
    ]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _totals(totals: Totals, extra: dict[str, Any]) -> dict[str, Any]:
    return {"requests": totals.requests, "tokens": totals.tokens, **extra}


def _replay(contents: _Contents, journal: bytes) -> int:
    """Apply the journal's records to ``contents``; the number applied.

    Only the last line may be damaged (a crash in the middle of an append); it is skipped.
    """
    lines = journal.split(b"\n")
    applied = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            users = record["users"]
            totals = record["global"]
            changes = [_account(key, entry) for key, entry in users.items()]
            new_totals = Totals(
                requests=_int(totals, "requests", "'global'"),
                tokens=_int(totals, "tokens", "'global'"),
            )
        except (ValueError, KeyError, TypeError, AttributeError, _Invalid) as exc:
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                log.warning("skipping a torn last journal record: %s", exc)
                break
            raise _Invalid(f"record {number} is damaged ({exc})") from exc
        for account, extra in changes:
            contents.accounts[account.user_id] = account
            if extra:
                contents.extras[account.user_id] = extra
            else:
                contents.extras.pop(account.user_id, None)
        contents.totals = new_totals
        applied += 1
    return applied


@attrs.define
class JsonAccountStore:
    """The accounts store on one data.json file (implements ``core.ports.AccountStore``)."""

    path: Path
    _contents: _Contents
    snapshot_every: int = 10_000
    _journal_fd: int | None = None
    _pending: list[bytes] = attrs.field(factory=list)  # applied in memory, not yet written
    _version: int = 0  # records applied in memory
    _written: int = 0  # records made durable
    _journal_records: int = 0  # records in the journal since the last snapshot
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)

    @property
    def journal_path(self) -> Path:
        return _journal_of(self.path)

    @classmethod
    def open(cls, path: Path, snapshot_every: int = 10_000) -> JsonAccountStore:
        """Load ``path`` and its journal, creating them when missing.

        Raises CorruptData when a file cannot be trusted, StorageError when it cannot be made
        or another running bot has it open.
        """
        # The journal stays open, locked, for as long as the store: a second bot (or the console
        # started beside the Telegram bot) on the same files would each overwrite what the
        # other saved. The lock is taken before anything is read.
        journal = _journal_of(path)
        try:
            journal_fd = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        except OSError as exc:
            raise StorageError(f"{path}: cannot open its journal {journal} ({exc})") from exc
        try:
            _lock(journal_fd, path)
            store = cls._load(path, snapshot_every, journal_fd)
        except BaseException:
            os.close(journal_fd)
            raise
        return store

    @classmethod
    def _load(cls, path: Path, snapshot_every: int, journal_fd: int) -> JsonAccountStore:
        try:
            text: str | None = _read_text(path)
        except FileNotFoundError:
            text = None
        except OSError as exc:
            raise refuse(path, f"it cannot be read ({exc.strerror or exc})") from exc
        except _Invalid as exc:
            raise refuse(path, str(exc)) from exc
        try:
            contents = (
                _parse_quickly(text) if text is not None else _Contents({}, {}, Totals(), {}, {})
            )
        except _Invalid as exc:
            raise refuse(path, str(exc)) from exc
        store = cls(path, contents, snapshot_every, journal_fd)
        journal = store.journal_path
        try:
            replayed = _replay(contents, journal.read_bytes())
        except OSError as exc:
            raise refuse(journal, f"it cannot be read ({exc.strerror or exc})") from exc
        except _Invalid as exc:
            raise refuse(journal, str(exc)) from exc
        try:
            if text is None or replayed:
                write_atomically(path, _serialize(store._contents))
            os.ftruncate(journal_fd, 0)  # all of it is in data.json now
        except OSError as exc:
            raise StorageError(f"{path}: cannot write the data file ({exc})") from exc
        log.info(
            "loaded %d accounts from %s (%d journal records replayed)",
            len(contents.accounts),
            path,
            replayed,
        )
        return store

    def get(self, user_id: int) -> Account | None:
        return self._contents.accounts.get(user_id)

    def totals(self) -> Totals:
        return self._contents.totals

    def accounts(self) -> int:
        return len(self._contents.accounts)

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        """Apply the changes in memory at once, then make them durable in the journal.

        If the write fails the changes stay in memory and go out with the next successful save;
        the caller gets a StorageError saying what happened.
        """
        contents = self._contents
        users = {}
        for account in accounts:
            contents.accounts[account.user_id] = account
            users[str(account.user_id)] = _entry(account, contents.extras.get(account.user_id, {}))
        if totals is not None:
            contents.totals = totals
        record = {"users": users, "global": _totals(contents.totals, {})}
        self._pending.append((_dumps(record) + "\n").encode("utf-8"))
        self._version += 1
        await self._flush(self._version)

    async def _flush(self, version: int) -> None:
        async with self._lock:
            if self._written >= version:
                return  # a write that started after our change already carried it
            await self._write_pending()
            if self._journal_records >= self.snapshot_every:
                try:
                    await self._snapshot()
                except StorageError as exc:
                    # The journal still holds everything: the snapshot can wait for next time.
                    log.error("%s", exc)

    async def _write_pending(self) -> None:
        records, self._pending = self._pending, []
        target = self._version
        try:
            await asyncio.to_thread(self._append, b"".join(records))
        except OSError as exc:
            self._pending = records + self._pending
            raise StorageError(f"{self.path}: cannot save ({exc.strerror or exc})") from exc
        self._written = target
        self._journal_records += len(records)

    def _append(self, data: bytes) -> None:
        if self._journal_fd is None:
            raise OSError("the data file is closed")
        view = memoryview(data)
        while view:
            view = view[os.write(self._journal_fd, view) :]
        os.fsync(self._journal_fd)

    async def _snapshot(self) -> None:
        """Rewrite data.json with everything durable, then empty the journal (lock held)."""
        while self._pending:
            await self._write_pending()
        # Nothing is pending, so memory equals what the journal holds: copy it now, with no
        # await in between, and the snapshot never contains a change the journal lacks.
        image = self._image()
        try:
            data = await asyncio.to_thread(_serialize, image)
            await asyncio.to_thread(write_atomically, self.path, data)
            await asyncio.to_thread(self._truncate_journal)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot rewrite ({exc.strerror or exc})") from exc
        self._journal_records = 0

    def _truncate_journal(self) -> None:
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
            os.fsync(self._journal_fd)

    def _image(self) -> _Contents:
        """A copy to write out from another thread while the event loop goes on changing
        accounts; the other parts change only while loading."""
        return attrs.evolve(self._contents, accounts=dict(self._contents.accounts))

    async def close(self) -> None:
        """Write what is pending and leave everything in data.json."""
        async with self._lock:
            if self._journal_fd is None:
                return
            if self._pending or self._journal_records:
                await self._snapshot()
            os.close(self._journal_fd)
            self._journal_fd = None
