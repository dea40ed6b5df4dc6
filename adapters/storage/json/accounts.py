"""Accounts in data.json (the older bot's format, see ``data_json``), saved through a journal.

Rewriting the whole file on every change is what makes the older bots slow and fragile, so a
change appends one line to a journal beside the file (``data.json.journal``) and fsyncs it;
changes that arrive while a write is running are written together by the next one
(``group_commit``). Every ``snapshot_every`` records, or sooner once the journal has grown
larger than data.json (``FOLD_BYTES`` at least: a small file is then cheaper to rewrite than
to keep replaying), and when the store closes, data.json is rewritten atomically and the
journal emptied. On start the journal is replayed over data.json.

A journal record is one JSON object per line, ``{"users": {"<id>": <entry>}, "global": {...}}``,
with entries in the data.json format (and ``"access": {...}`` when it changes the access
list); records carry whole values, not increments, so replaying one twice is harmless. A
record counts only once its line is complete, newline included.

All or nothing, memory included. A change is applied in memory at once (so the next one sees
it) and then written; when the write fails, what it appended is cut off the journal again, and
memory goes back to what is durable: that change and every change queued behind it (which may
have read it) are undone, and each caller gets a StorageError. So a change reported as failed
is never applied, in memory or on a later start. When the disk is full, every change fails this
way until there is space again; nothing else breaks, and the bot starts even on a full disk (it
then keeps data.json as it is and the journal as the record).

A process killed in the middle of an append leaves a torn line. Older versions also went on
appending after a fragment a full disk left, gluing the next record to it. Start-up cuts off a
torn tail and drops a fragment glued in front of a complete record (both logged); any other
damage refuses to start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import attrs

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from adapters.storage import access as access_format
from adapters.storage import purchases as purchase_format
from adapters.storage.files import (
    FILE_MODE,
    Fsync,
    make_private,
    refuse,
    remove_stale_temporaries,
    write_atomically,
)
from adapters.storage.group_commit import GroupCommit
from adapters.storage.holds import Hold, HoldLedger
from adapters.storage.json import format as fmt
from adapters.storage.json.preload import Preload
from core.budget import Entry, Posting
from core.errors import StorageError
from core.values import AccessList, Account, Purchase, Totals

log = logging.getLogger(__name__)

_RECORD_START = b'{"users": '
FOLD_BYTES = 4_096


def journal_of(path: Path) -> Path:
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


_Record = tuple[list[tuple[Account, dict[str, Any]]], Totals, Any, Any, Any]


def _read_record(line: bytes) -> _Record:
    """The accounts, the totals and the access list (None: unchanged) of one record."""
    record = fmt.decode(line.decode("utf-8"))
    users, totals = record["users"], record["global"]
    changes = [fmt.read_account(key, entry, True) for key, entry in users.items()]
    for key in users:
        if not fmt.is_user_key(key):
            raise fmt.Invalid(f"the user id {key[:40]!r} is not a plain number")
    where = "'global'"
    access = record.get(access_format.KEY)
    if access is not None:
        fmt.check_value(access, "the access list")
    purchase = record.get(purchase_format.RECORD_KEY)
    if purchase is not None:
        fmt.check_value(purchase, "a purchase")
        if not isinstance(purchase, dict) or not isinstance(purchase.get("charge"), str):
            raise fmt.Invalid("a purchase without its charge id")
    usage = record.get(purchase_format.USAGE_KEY)
    if usage is not None and not isinstance(usage, dict):
        raise fmt.Invalid("a day's tally that is not an object")
    return (
        changes,
        Totals(
            fmt.whole_number(totals, "requests", where), fmt.whole_number(totals, "tokens", where)
        ),
        access,
        purchase,
        usage,
    )


def _read_line(line: bytes, number: int) -> _Record:
    """The record of one complete journal line, after dropping torn appends glued before it."""
    try:
        return _read_record(line)
    except (ValueError, KeyError, TypeError, AttributeError, fmt.Invalid) as exc:
        damage = exc
    # A torn append starts like every record and is no JSON by itself; the complete record
    # that was appended after it is the first tail of the line that reads as one.
    if line.startswith(_RECORD_START):
        at = line.find(_RECORD_START, 1)
        while at > 0:
            try:
                record = _read_record(line[at:])
            except (ValueError, KeyError, TypeError, AttributeError, fmt.Invalid):
                at = line.find(_RECORD_START, at + 1)
                continue
            log.warning(
                "journal record %d: dropped %d bytes of an append torn before it (a full disk "
                "or a crash in the middle of a write); the record after them is whole",
                number,
                at,
            )
            return record
    raise fmt.Invalid(f"record {number} is damaged ({damage})") from damage


def _replay(contents: fmt.Contents, journal: bytes) -> tuple[int, int]:
    """Apply the journal's records to ``contents``: how many, and the journal's length without
    a torn tail."""
    applied = 0
    end = journal.rfind(b"\n") + 1  # a record counts only with its newline
    if end < len(journal):
        log.warning("cutting off a torn last journal record (%d bytes)", len(journal) - end)
    for number, line in enumerate(journal[:end].split(b"\n")[:-1], 1):
        if not line.strip():
            continue
        changes, totals, access, purchase, usage = _read_line(line, number)
        for account, extra in changes:
            key = account.user_id
            contents.accounts[key] = account
            if extra:
                contents.extras[key] = extra
            else:
                contents.extras.pop(key, None)
        contents.totals = totals
        if access is not None:
            contents.global_extra = {**contents.global_extra, access_format.KEY: access}
        if purchase is not None:
            entry = dict(purchase)
            contents.global_extra = _with_purchase(
                contents.global_extra, entry.pop("charge"), entry
            )
        for day, tokens in (usage or {}).items():
            contents.global_extra = _with_day(contents.global_extra, day, tokens)
        applied += 1
    return applied, end


@attrs.define
class _Change:
    """One journal record, and what memory held before it, to put back if it fails."""

    line: bytes
    before: dict[str, Account | None]
    totals_before: Totals
    released: Hold | None
    # Set when the record changes the access list or a purchase.
    global_before: dict[str, Any] | None = None
    charge: str | None = None  # the charge id of the purchase it credits or refunds


@attrs.define
class JsonAccounts:
    """The account store on one data.json file: ``core.ports.AccountStore``."""

    path: Path
    _contents: fmt.Contents
    _journal_fd: int | None
    snapshot_every: int = 10_000
    _journal_records: int = 0  # records in the journal since the last snapshot
    _journal_bytes: int = 0
    _data_bytes: int = 0  # the size of data.json when it was last read or written
    _holds: HoldLedger = attrs.field(factory=HoldLedger)
    _closing: bool = False  # no change is taken once close has begun
    _access_read: tuple[Any, AccessList] | None = None  # the stored list, and it parsed
    _fsync: Fsync = attrs.field(default=os.fsync, kw_only=True)
    _commits: GroupCommit[_Change] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._commits = GroupCommit(self._append, self._undo, self._fold)

    @property
    def journal_path(self) -> Path:
        return journal_of(self.path)

    @classmethod
    def open(
        cls,
        path: Path,
        snapshot_every: int = 10_000,
        *,
        fsync: Fsync = os.fsync,
        preload: Preload | None = None,
    ) -> Self:
        """Load ``path`` and its journal, creating them when missing. ``fsync``: what makes
        written bytes durable (a test passes one that watches the real one). ``preload``:
        ``path`` being parsed in another process (``preload``), taken when it parsed what the
        file holds once locked here.

        A symlinked data.json is followed: the target is what gets rewritten, and the journal
        lives beside it. Raises CorruptData when a file cannot be trusted, StorageError when it
        cannot be opened or another running bot has it open.
        """
        try:
            return cls._open(path, snapshot_every, fsync, preload)
        finally:
            if preload is not None:
                preload.discard()  # when it was not taken (nothing happens if it was)

    @classmethod
    def _open(cls, path: Path, snapshot_every: int, fsync: Fsync, preload: Preload | None) -> Self:
        path = Path(os.path.realpath(path))
        # The journal stays open, locked, for as long as the store: a second bot (or the console
        # started beside the Telegram bot) on the same files would each overwrite what the
        # other saved. The lock is taken before anything is read.
        journal = journal_of(path)
        try:
            journal_fd = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        except OSError as exc:
            raise StorageError(f"{path}: cannot open its journal {journal} ({exc})") from exc
        try:
            _lock(journal_fd, path)
            make_private(journal, journal_fd)
            make_private(path)
            make_private(fmt.text_accounts_file(path))
            remove_stale_temporaries(path)
            remove_stale_temporaries(fmt.text_accounts_file(path))
            return cls._load(path, snapshot_every, journal_fd, fsync, preload)
        except BaseException:
            os.close(journal_fd)
            raise

    @classmethod
    def _load(
        cls,
        path: Path,
        snapshot_every: int,
        journal_fd: int,
        fsync: Fsync,
        preload: Preload | None = None,
    ) -> Self:
        preloaded = preload.contents(path) if preload is not None else None
        if preloaded is not None:
            contents, size = preloaded
        else:
            contents, size = _read(path)
        text_file = fmt.text_accounts_file(path)
        try:
            fmt.parse_text_accounts(text_file.read_bytes(), contents)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise refuse(text_file, f"it cannot be read ({exc.strerror or exc})") from exc
        except fmt.Invalid as exc:
            raise refuse(text_file, str(exc)) from exc
        journal = journal_of(path)
        try:
            replayed, end = _replay(contents, journal.read_bytes())
        except OSError as exc:
            raise refuse(journal, f"it cannot be read ({exc.strerror or exc})") from exc
        except fmt.Invalid as exc:
            raise refuse(journal, str(exc)) from exc
        store = cls(path, contents, journal_fd, snapshot_every, replayed, end, size, fsync=fsync)
        try:
            os.ftruncate(journal_fd, end)  # a torn tail must not glue to the next append
            if replayed or not path.exists():
                store._write_snapshot(contents)
        except OSError as exc:
            # A full disk must not keep the bot from starting: the journal keeps everything,
            # and the next snapshot tries again.
            log.error("%s: cannot rewrite it now (%s); the journal keeps every change", path, exc)
        log.info(
            "loaded %d accounts from %s (%d journal records replayed)",
            len(contents.accounts),
            path,
            replayed,
        )
        return store

    # -- reading ---------------------------------------------------------------------------

    def contents(self) -> fmt.Contents:
        """Everything the file holds now, journal replayed: for copying it elsewhere (the
        PostgreSQL import). Not a copy: do not change it."""
        return self._contents

    async def get(self, user_id: str) -> Account | None:
        return self._contents.accounts.get(user_id)

    async def totals(self) -> Totals:
        return self._contents.totals

    async def count(self) -> int:
        return len(self._contents.accounts)

    async def held(self, user_id: str) -> int:
        return self._holds.held(user_id)

    async def page(self, offset: int, limit: int) -> list[Account]:
        accounts = self._contents.accounts.values()
        return list(itertools.islice(accounts, offset, offset + limit))

    async def access(self) -> AccessList:
        # Read for every message while the bot is restricted: parsed again only once changed.
        raw = self._contents.global_extra.get(access_format.KEY)
        if self._access_read is None or self._access_read[0] is not raw:
            self._access_read = (raw, access_format.from_json(raw))
        return self._access_read[1]

    async def hold(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        """Held in memory only: a hold dies with the process."""
        account = self._contents.accounts.get(user_id)
        if account is None:
            return None
        return self._holds.hold(user_id, account.balance, minimum, maximum)

    async def release(self, hold: Hold) -> None:
        """Give ``hold`` back; a hold already given back (or settled) is ignored."""
        self._holds.give_back(hold)

    # -- changing ---------------------------------------------------------------------------

    async def register(self, account: Account) -> Account:
        """Store ``account`` if its id is new; the stored account wins otherwise."""
        existing = self._contents.accounts.get(account.user_id)
        if existing is not None:
            return existing
        await self._commit({account.user_id: account}, None, None)
        return account

    async def settle(
        self, user_id: str, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        """Apply ``entry`` to what is stored now, count it in the totals, give ``release``
        back, durably.

        None for an unknown id. Raises StorageError when it cannot be saved: then nothing of it
        remains, in memory either, and ``release`` is still held (release it to give it back).
        """
        current = self._contents.accounts.get(user_id)
        if current is None:
            return None
        posting = entry.post(current)
        account = posting.account
        if account.user_id != user_id:  # its key, whatever ``post`` did
            account = attrs.evolve(account, user_id=user_id)
            posting = attrs.evolve(posting, account=account)
        totals = self._contents.totals.plus(posting.counted)
        day = None
        if posting.day is not None and posting.counted.tokens:
            key = posting.day.isoformat()
            tally = self._contents.global_extra.get(purchase_format.USAGE_KEY)
            before = tally.get(key, 0) if isinstance(tally, dict) else 0
            day = (key, (before if isinstance(before, int) else 0) + posting.counted.tokens)
        await self._commit({user_id: account}, totals, release, day=day)
        return posting

    async def change(self, user_id: str, change: Callable[[Account], Account]) -> Account | None:
        """Apply ``change`` to what is stored now and make it durable; None for an unknown id.
        Raises StorageError when it cannot be saved: then nothing of it remains."""
        current = self._contents.accounts.get(user_id)
        if current is None:
            return None
        account = change(current)
        if account.user_id != user_id:  # its key, whatever ``change`` did
            account = attrs.evolve(account, user_id=user_id)
        await self._commit({user_id: account}, None, None)
        return account

    async def change_access(self, change: Callable[[AccessList], AccessList]) -> AccessList:
        """Apply ``change`` to the stored access list and make it durable. Raises StorageError
        when it cannot be saved: then nothing of it remains."""
        changed = change(await self.access())
        await self._commit({}, None, None, access=access_format.to_json(changed))
        return changed

    async def credit(self, purchase: Purchase) -> bool:
        """Record ``purchase`` and credit its tokens in one journal record, unless its charge
        id is recorded (see ``core.ports.AccountStore.credit``)."""
        if await self._durable_purchase(purchase.charge_id) is not None:
            return False
        current = self._contents.accounts.get(purchase.user_id)
        if current is None:
            raise StorageError(f"{self.path}: no account {purchase.user_id} to credit")
        account = purchase_format.credited(current, purchase.tokens)
        entry = purchase_format.to_json(purchase)
        await self._commit(
            {purchase.user_id: account}, None, None, purchase=(purchase.charge_id, entry)
        )
        return True

    async def take_back(self, charge_id: str, at: dt.datetime) -> bool:
        found = await self._durable_purchase(charge_id)
        if found is None or found.refunded_at is not None:
            return False
        refunded = attrs.evolve(found, refunded_at=at)
        changed = {}
        current = self._contents.accounts.get(found.user_id)
        if current is not None:
            changed[found.user_id] = purchase_format.credited(current, -found.tokens)
        entry = purchase_format.to_json(refunded)
        await self._commit(changed, None, None, purchase=(charge_id, entry))
        return True

    async def _durable_purchase(self, charge_id: str) -> Purchase | None:
        """The purchase of ``charge_id`` once durable: a change of it still being written may
        yet fail and be undone, so one that sees it waits for the outcome first."""
        while any(step.charge == charge_id for step in self._commits.pending):
            await self._commits.drain()
        return await self.purchase(charge_id)

    async def purchase(self, charge_id: str) -> Purchase | None:
        stored = self._contents.global_extra.get(purchase_format.KEY)
        if not isinstance(stored, dict) or charge_id not in stored:
            return None
        found = purchase_format.from_json(charge_id, stored[charge_id])
        if found is None:  # damaged by hand: never credited again, never guessed at
            raise StorageError(f"{self.path}: the purchase {charge_id} cannot be read")
        return found

    async def purchases(self, since: dt.datetime) -> list[Purchase]:
        stored = purchase_format.all_from_json(self._contents.global_extra.get(purchase_format.KEY))
        return sorted((p for p in stored.values() if p.at >= since), key=purchase_format.by_time)

    async def tokens_by_day(self, since: dt.date) -> dict[dt.date, int]:
        tally = purchase_format.days_from_json(
            self._contents.global_extra.get(purchase_format.USAGE_KEY)
        )
        return {day: n for day, n in sorted(tally.items()) if day >= since and n}

    async def _commit(
        self,
        accounts: dict[str, Account],
        totals: Totals | None,
        release: Hold | None,
        access: dict[str, Any] | None = None,
        purchase: tuple[str, dict[str, Any]] | None = None,
        day: tuple[str, int] | None = None,
    ) -> None:
        """Check, apply in memory, write; on failure memory is put back (``_undo``)."""
        contents = self._contents
        try:
            for account in accounts.values():
                fmt.check_account(account)
            if totals is not None:
                fmt.check_totals(totals)
            users = {
                key: fmt.write_entry(account, contents.extras.get(key, {}))
                for key, account in accounts.items()
            }
            record = {"users": users, "global": fmt.totals_entry(totals or contents.totals, {})}
            if access is not None:
                record[access_format.KEY] = access
            if purchase is not None:
                record[purchase_format.RECORD_KEY] = {"charge": purchase[0], **purchase[1]}
            if day is not None:
                fmt.check_number(day[1], "the day's tally")
                record[purchase_format.USAGE_KEY] = dict([day])
            line = (fmt.dumps(record) + "\n").encode("utf-8")
        except (fmt.Unwritable, UnicodeEncodeError, ValueError, RecursionError) as exc:
            problem = f"{self.path}: refused a change that cannot be stored: {exc}"
            raise StorageError(problem) from exc
        if self._closing:
            raise StorageError(f"{self.path}: the store is closed")
        step = _Change(
            line,
            {key: contents.accounts.get(key) for key in accounts},
            contents.totals,
            release if self._holds.has(release) else None,
            None if access is None and purchase is None and day is None else contents.global_extra,
            None if purchase is None else purchase[0],
        )
        contents.accounts.update(accounts)
        if access is not None:
            contents.global_extra = {**contents.global_extra, access_format.KEY: access}
        if purchase is not None:
            contents.global_extra = _with_purchase(contents.global_extra, *purchase)
        if day is not None:
            contents.global_extra = _with_day(contents.global_extra, *day)
        if totals is not None:
            contents.totals = totals
        if step.released is not None:
            self._holds.give_back(step.released)
        try:
            await self._commits.submit(step)
        except OSError as exc:
            raise StorageError(
                f"{self.path}: cannot save ({exc.strerror or exc}); nothing of it was kept"
            ) from exc

    def _undo(self, failed: Sequence[_Change]) -> None:
        contents = self._contents
        for step in failed:  # newest first
            _put_back(contents.accounts, step)
            contents.totals = step.totals_before
            if step.global_before is not None:
                contents.global_extra = step.global_before
            if step.released is not None:
                self._holds.take(step.released)

    def _append(self, batch: Sequence[_Change]) -> None:
        """Write and fsync a batch (worker thread); on failure cut it off the journal again."""
        fd = self._journal_fd
        if fd is None:
            raise OSError("the data file is closed")
        size = os.lseek(fd, 0, os.SEEK_END)
        data = b"".join(step.line for step in batch)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            self._fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size)
                self._fsync(fd)
            except OSError as again:
                log.critical(
                    "%s: a failed write could not be cut off the journal (%s): the next start "
                    "may apply changes that were reported as not saved",
                    self.path,
                    again,
                )
            raise
        self._journal_records += len(batch)
        self._journal_bytes += len(data)

    # -- snapshots --------------------------------------------------------------------------

    async def _fold(self) -> None:
        """After each batch: fold the journal into data.json when it has grown enough."""
        grown = self._journal_bytes >= max(self._data_bytes, FOLD_BYTES)
        if self._journal_records >= self.snapshot_every or grown:
            await self._snapshot()

    async def _snapshot(self) -> bool:
        """Rewrite data.json with everything durable, then empty the journal; whether it
        could. Runs only between batches (``_fold``, ``close``), so no append races it."""
        image = self._durable_image()
        try:
            await asyncio.to_thread(self._write_snapshot, image)
        except OSError as exc:
            # The journal still holds everything: the snapshot can wait for next time.
            log.error("%s: cannot rewrite (%s); the journal keeps every change", self.path, exc)
            return False
        return True

    def _durable_image(self) -> fmt.Contents:
        """What is durable: memory without the changes still queued. A copy of the dict (the
        accounts in it are frozen values), so the event loop can go on changing accounts while
        another thread writes this one out."""
        accounts = self._contents.accounts.copy()
        totals = self._contents.totals
        global_extra = self._contents.global_extra
        for step in reversed(self._commits.pending):
            _put_back(accounts, step)
            totals = step.totals_before
            if step.global_before is not None:
                global_extra = step.global_before
        return attrs.evolve(
            self._contents, accounts=accounts, totals=totals, global_extra=global_extra
        )

    def _write_snapshot(self, image: fmt.Contents) -> None:
        written = write_data_files(self.path, image, self._fsync)
        # Only now: until data.json holds them, the journal is the only copy of its records.
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
            self._fsync(self._journal_fd)
        self._journal_records = self._journal_bytes = 0
        self._data_bytes = written
        log.info("%s rewritten (%d bytes); its journal is empty again", self.path, written)

    async def close(self) -> None:
        """Write what is pending and leave everything in data.json (or, on a full disk, in the
        journal, which the next start replays)."""
        # A change appended while the last snapshot is written would be truncated with the
        # journal: none is taken from here on.
        self._closing = True
        await self._commits.drain()
        if self._journal_fd is None:
            return
        if self._journal_records:
            await self._snapshot()
        os.close(self._journal_fd)
        self._journal_fd = None


def _with_purchase(
    global_extra: dict[str, Any], charge_id: str, entry: dict[str, Any]
) -> dict[str, Any]:
    """``global_extra`` with the purchase ``entry`` of ``charge_id``: new dicts, never changed
    in place (a step's ``global_before`` keeps the old ones)."""
    stored = global_extra.get(purchase_format.KEY)
    purchases = dict(stored) if isinstance(stored, dict) else {}
    purchases[charge_id] = entry
    return {**global_extra, purchase_format.KEY: purchases}


def _with_day(global_extra: dict[str, Any], day: str, tokens: int) -> dict[str, Any]:
    """``global_extra`` with ``tokens`` as the tally of ``day`` (new dicts, as above)."""
    stored = global_extra.get(purchase_format.USAGE_KEY)
    days = dict(stored) if isinstance(stored, dict) else {}
    days[day] = tokens
    return {**global_extra, purchase_format.USAGE_KEY: days}


def write_data_files(path: Path, contents: fmt.Contents, fsync: Fsync = os.fsync) -> int:
    """Write ``contents`` to data.json and its ``text_accounts_file``, each atomically; the
    bytes of data.json. The accounts with text ids go first: data.json may still hold them
    (from before that file existed), and until that file has them they must stay there."""
    older, text = fmt.split_text_accounts(contents)
    text_file = fmt.text_accounts_file(path)
    if text.accounts or text_file.exists():
        write_atomically(text_file, fmt.serialize_text_accounts(text), fsync)
    written = 0

    def counted() -> Iterator[bytes]:
        nonlocal written
        for chunk in fmt.serialize(older):
            written += len(chunk)
            yield chunk

    write_atomically(path, counted(), fsync)
    return written


def _read(path: Path) -> tuple[fmt.Contents, int]:
    """data.json's contents (empty when it is missing) and its size; refuses a damaged file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return fmt.Contents(), 0
    except OSError as exc:
        raise refuse(path, f"it cannot be read ({exc.strerror or exc})") from exc
    try:
        return fmt.parse(data), len(data)
    except fmt.Invalid as exc:
        raise refuse(path, str(exc)) from exc


def _put_back(accounts: fmt.Accounts, step: _Change) -> None:
    for key, before in step.before.items():
        if before is None:
            accounts.pop(key, None)
        else:
            accounts[key] = before
