"""Accounts in data.json, in the format of the bot this project replaces.

    {"global": {"requests": 0, "tokens": 0},
     "123": {"requests": 0, "tokens": 0, "balance": 30000, "name": "John",
             "username": "@johndoe", "last_request": "2021-01-01 00:00:00", "prompt": "..."}}

Older files use ``lastdate`` (``dd.mm.YYYY HH:MM:SS`` or ``dd-mm-YYYY HH:MM:SS``) and a username of
``"None"``; both are read, and written back in the documented form. Keys this code does not know,
in an entry or at the top level, are kept as they are.

Every save rewrites the file atomically (see ``files.write_atomically``). Saves that arrive while
a write is running are folded into the next write (group commit), so a burst of requests costs
one or two writes, not one each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from adapters.storage.files import refuse, write_atomically
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
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Invalid(f"the key {key!r} appears twice")
        result[key] = value
    return result


def _int(entry: dict[str, Any], field: str, where: str, default: int | None = None) -> int:
    value = entry.get(field, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{where}: {field!r} must be a whole number, found {value!r}")
    return value


def _optional_str(entry: dict[str, Any], field: str, where: str) -> str | None:
    value = entry.get(field)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{where}: {field!r} must be text, found {value!r}")
    return value or None


def _date(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    for form in _OLD_DATE_FORMATS:
        try:
            return dt.datetime.strptime(raw, form)
        except ValueError:
            continue
    return None


def _account(key: str, entry: object) -> tuple[Account, dict[str, Any]]:
    """The account of one entry, and the entry's keys this code does not interpret."""
    where = f"user {key}"
    if not isinstance(entry, dict):
        raise _Invalid(f"{where}: expected an object, found {entry!r}")
    username = _optional_str(entry, "username", where)
    if username in {"None", "@None"}:
        username = None
    raw_date = entry.get("last_request", entry.get("lastdate"))
    last = _date(raw_date)
    extra = {k: v for k, v in entry.items() if k not in _KNOWN}
    if raw_date is not None and last is None:
        # An unreadable date is not worth refusing to start: keep it as it was written.
        extra["last_request" if "last_request" in entry else "lastdate"] = raw_date
    account = Account(
        user_id=int(key),
        balance=_int(entry, "balance", where),
        requests=_int(entry, "requests", where, 0),
        tokens=_int(entry, "tokens", where, 0),
        name=_optional_str(entry, "name", where),
        username=username.lstrip("@") if username else None,
        last_request=last,
        prompt=_optional_str(entry, "prompt", where),
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


def _parse(data: bytes) -> _Contents:
    try:
        document = json.loads(data, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Invalid(f"it is not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise _Invalid("it must hold a JSON object of users")
    contents = _Contents({}, {}, Totals(), {}, {})
    for key, entry in document.items():
        if key == GLOBAL:
            continue
        if not key.lstrip("-").isdigit():
            contents.top_extra[key] = entry
            continue
        account, extra = _account(key, entry)
        if account.user_id in contents.accounts:
            raise _Invalid(f"user {account.user_id} appears twice")
        contents.accounts[account.user_id] = account
        contents.extras[account.user_id] = extra
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


@attrs.define
class JsonAccountStore:
    """The accounts store on one data.json file (implements ``core.ports.AccountStore``)."""

    path: Path
    _contents: _Contents
    _version: int = 0
    _written: int = 0
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)

    @classmethod
    def open(cls, path: Path) -> JsonAccountStore:
        """Load ``path``, creating it when missing; raise CorruptData when it cannot be used."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            store = cls(path, _Contents({}, {}, Totals(), {}, {}))
            try:
                write_atomically(path, store._serialize())
            except OSError as exc:
                raise StorageError(f"{path}: cannot create the data file ({exc})") from exc
            log.info("created a new data file at %s", path)
            return store
        except OSError as exc:
            raise refuse(path, f"it cannot be read ({exc.strerror or exc})") from exc
        try:
            contents = _parse(data)
        except _Invalid as exc:
            raise refuse(path, str(exc)) from exc
        log.info("loaded %d accounts from %s", len(contents.accounts), path)
        return cls(path, contents)

    def get(self, user_id: int) -> Account | None:
        return self._contents.accounts.get(user_id)

    def totals(self) -> Totals:
        return self._contents.totals

    def accounts(self) -> int:
        return len(self._contents.accounts)

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        """Apply the changes in memory at once, then make them durable.

        If the write fails the changes stay in memory and go out with the next successful save;
        the caller gets a StorageError saying what happened.
        """
        for account in accounts:
            self._contents.accounts[account.user_id] = account
        if totals is not None:
            self._contents.totals = totals
        self._version += 1
        await self._flush(self._version)

    async def _flush(self, version: int) -> None:
        async with self._lock:
            if self._written >= version:
                return  # a write that started after our change already carried it
            snapshot = self._version
            data = self._serialize()
            try:
                await asyncio.to_thread(write_atomically, self.path, data)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot save ({exc.strerror or exc})") from exc
            self._written = snapshot

    async def close(self) -> None:
        if self._written < self._version:
            await self._flush(self._version)

    def _serialize(self) -> bytes:
        """One line per user, so the file stays readable and diffable."""
        contents = self._contents
        totals = {
            "requests": contents.totals.requests,
            "tokens": contents.totals.tokens,
            **contents.global_extra,
        }
        lines = [f'"{GLOBAL}": {json.dumps(totals, ensure_ascii=False)}']
        lines += [
            f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}"
            for key, value in contents.top_extra.items()
        ]
        lines += [
            f'"{user_id}": '
            + json.dumps(_entry(account, contents.extras.get(user_id, {})), ensure_ascii=False)
            for user_id, account in contents.accounts.items()
        ]
        return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")
