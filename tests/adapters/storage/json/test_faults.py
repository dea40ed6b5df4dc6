"""data.json under faults: torn journal records, damaged files that must be refused cleanly,
snapshots that fail or race with changes, and the files' names and modes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
from pathlib import Path

import attrs
import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.sqlite.threads import SqliteThreads
from core.errors import CorruptData
from tests.adapters.storage.json.test_contract import crash, user
from tests.fakes import Spend

RECORD = b'{"users": {"%d": {"requests": 0, "tokens": 0, "balance": %d}}, "global": {"requests": 0, "tokens": 0}}'  # noqa: E501


def record(user_id: int, balance: int) -> bytes:
    return RECORD % (user_id, balance)


def test_a_fragment_glued_before_a_record_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What older versions left after a full disk: a torn append, the retry right after it."""
    path = tmp_path / "data.json"
    torn = record(2, 20)[:37]
    journal = record(1, 10) + b"\n" + torn + torn[:12] + record(2, 21) + b"\n" + record(3, 30)
    journal += b"\n" + record(4, 40)[:20]  # and a torn tail
    (tmp_path / "data.json.journal").write_bytes(journal)
    with caplog.at_level(logging.WARNING):
        store = JsonAccounts.open(path)
    balances = {key: a.balance for key, a in store._contents.accounts.items()}
    assert balances == {"1": 10, "2": 21, "3": 30}
    assert "dropped 49 bytes of an append torn before it" in caplog.text
    assert "cutting off a torn last journal record" in caplog.text
    assert (tmp_path / "data.json.journal").read_bytes() == b""  # folded into data.json


async def test_a_torn_first_append_is_cut_off_before_the_next_one(tmp_path: Path) -> None:
    """Killed 4 bytes into the journal's first append (nothing to replay, so no snapshot
    empties the journal at start), then one change and another kill: the next start must
    find that change, not a fragment glued in front of it."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("5", 100))
    await store.close()
    (tmp_path / "data.json.journal").write_bytes(record(5, 90)[:4])
    store = JsonAccounts.open(path)
    await store.settle("5", Spend(10))
    crash(store)
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 90, requests=1, tokens=10)
    await again.close()


@pytest.mark.parametrize(
    "line",
    [
        b"garbage",
        record(2, 20)[:37] + b"garbage",
        record(2, 20)[:-1],  # a complete line that is not a record: not a torn append
        b'{"users": {"2": {"balance": 1}}}',
    ],
)
def test_other_damage_in_the_journal_refuses_to_start(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "data.json"
    journal = record(1, 10) + b"\n" + line + b"\n" + record(3, 30) + b"\n"
    (tmp_path / "data.json.journal").write_bytes(journal)
    with pytest.raises(CorruptData, match="record 2 is damaged"):
        JsonAccounts.open(path)
    assert (tmp_path / "data.json.journal").read_bytes() == journal


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"5": {"balance": 1' + "0" * 5_000 + "}}", "not valid JSON"),
        ('{"5": {"balance": 10000000000000000}}', "beyond the limit"),
        ('{"global": {"requests": 1e999}}', "too large"),
        ('{"5": {"balance": 1, "x": NaN}}', "not a number JSON allows"),
        ('{"²": {"balance": 1}}', "is not a plain number"),
        ('{"5": {"balance": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}}", "nested"),
        ('{"5": {"balance": 1, "x": ' + "[" * 80 + "]" * 80 + "}}", "nested more than"),
        ('{"5": {"balance": 1, "name": "\\ud800"}}', "not valid text"),
        ('{"5": {"balance": 1, "lang": "\\udfff"}}', "not valid text"),
        ('{"5": {"balance": 1, "lang_model": "\\udfff"}}', "not valid text"),
        ('{"\\ud800": 1}', "not valid text"),
    ],
)
def test_values_that_could_not_be_written_back_refuse_to_start(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(CorruptData, match=problem) as caught:
        JsonAccounts.open(path)
    copies = list(tmp_path.glob("data.json.corrupt-*"))
    assert len(copies) == 1
    assert str(copies[0]) in str(caught.value)
    assert path.read_text() == content


def test_a_valid_emoji_pair_is_text_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"5": {"balance": 1, "name": "\\ud83d\\ude00"}}')
    store = JsonAccounts.open(path)
    assert store._contents.accounts["5"].name == "😀"


# -- the three orderings a snapshot depends on --------------------------------------------------


async def test_a_failed_snapshot_keeps_the_journal(tmp_path: Path) -> None:
    """data.json must be rewritten before the journal is emptied: a rewrite that fails (here a
    directory in the way of its temporary file) leaves the journal as the only copy."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path, snapshot_every=5)
    (tmp_path / f".data.json.{os.getpid()}.tmp").mkdir()
    for n in range(1, 8):
        await store.register(user(str(n), n))
    assert (tmp_path / "data.json.journal").read_bytes().count(b"\n") == 7
    crash(store)
    (tmp_path / f".data.json.{os.getpid()}.tmp").rmdir()
    again = JsonAccounts.open(path)
    assert await again.count() == 7
    await again.close()


async def test_a_snapshot_writes_what_is_durable_while_changes_go_on(tmp_path: Path) -> None:
    """The snapshot is written from another thread while the event loop goes on changing
    accounts: it must write a copy, without the changes still queued, and leave memory as is."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path, snapshot_every=1)
    for n in range(20_000):  # a snapshot that takes a while
        store._contents.accounts[str(n)] = user(str(n), n)
    first = asyncio.create_task(store.register(user("100000", 1)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # being written: the next ones queue behind it
    more = [asyncio.create_task(store.register(user(str(200_000 + n), n))) for n in range(50)]
    bumps = [asyncio.create_task(store.settle("7", Spend(1))) for _ in range(10)]
    while not all(task.done() for task in [first, *more, *bumps]):
        await store.register(user(str(300_000 + len(store._contents.accounts)), 1))
    await asyncio.gather(first, *more, *bumps)
    assert await store.get("7") == user("7", -3, requests=10, tokens=10)
    assert await store.get("200049") == user("200049", 49)
    expected = dict(store._contents.accounts)
    crash(store)
    again = JsonAccounts.open(path)
    assert again._contents.accounts == expected
    await again.close()


@attrs.frozen
class Synced:
    """One fsync, and the files as they were when it returned."""

    inode: int  # of the file synced
    size: int
    data_inode: int | None  # what was called data.json then
    journal_size: int


@attrs.define
class Disk:
    """The real fsync, watched: a power cut cannot be staged in a test, but what it would
    lose can be read from what was on disk when."""

    path: Path
    synced: list[Synced] = attrs.field(factory=list)

    def __call__(self, fd: int) -> None:
        os.fsync(fd)
        stat = os.fstat(fd)
        data = self.path.stat().st_ino if self.path.exists() else None
        journal = self.path.with_name(self.path.name + ".journal").stat().st_size
        self.synced.append(Synced(stat.st_ino, stat.st_size, data, journal))


async def test_every_save_is_fsynced_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    disk = Disk(path)
    store = JsonAccounts.open(path, fsync=disk)
    journal = tmp_path / "data.json.journal"
    await store.register(user("5", 100))
    for n in range(30):
        await asyncio.gather(*(store.settle("5", Spend(1)) for _ in range(n % 4 + 1)))
        inode = journal.stat().st_ino
        synced = [s.size for s in disk.synced if s.inode == inode]
        assert synced[-1] == journal.stat().st_size  # every byte of the journal on disk
    await store.close()


async def test_a_new_data_json_is_on_disk_before_it_takes_the_name_and_the_journal_empties(
    tmp_path: Path,
) -> None:
    """The journal is emptied right after a snapshot: a data.json not yet on disk would leave
    a power cut nothing but an empty journal and the old file."""
    path = tmp_path / "data.json"
    disk = Disk(path)
    store = JsonAccounts.open(path, fsync=disk)
    await store.register(user("5", 100))
    for _ in range(3):
        await store.settle("5", Spend(1))
    await store.close()  # folds the journal into a new data.json, as a snapshot mid-run does
    written = path.stat()
    assert (tmp_path / "data.json.journal").stat().st_size == 0
    assert any(
        s.inode == written.st_ino
        and s.size == written.st_size
        and s.data_inode != written.st_ino  # still under its temporary name
        and s.journal_size > 0  # the journal still held the records
        for s in disk.synced
    ), disk.synced
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 97, requests=3, tokens=3)
    await again.close()


# -- files -------------------------------------------------------------------------------------


async def test_a_symlinked_data_file_is_followed(tmp_path: Path) -> None:
    target = tmp_path / "real" / "data.json"
    target.parent.mkdir()
    target.write_text('{"5": {"balance": 1}}')
    link = tmp_path / "data.json"
    link.symlink_to(target)
    store = JsonAccounts.open(link, snapshot_every=1)
    await store.register(user("6", 2))
    await store.close()
    assert link.is_symlink()
    assert set(json.loads(target.read_text())) == {"global", "5", "6"}
    assert (target.parent / "data.json.journal").exists()


def test_existing_files_are_made_private_and_stale_copies_removed(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"5": {"balance": 1}}')
    journal = tmp_path / "data.json.journal"
    journal.write_bytes(b"")
    stale = tmp_path / ".data.json.12345.tmp"
    stale.write_text('{"5": {"balance": 1}}')
    other = tmp_path / ".other.json.12345.tmp"
    other.write_text("not ours")
    for file in (path, journal):
        file.chmod(0o644)
    asyncio.run(JsonAccounts.open(path).close())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert not stale.exists()
    assert other.exists()


async def test_existing_reply_chain_files_are_made_private(tmp_path: Path) -> None:
    path = tmp_path / "data.threads.db"
    store = SqliteThreads.open(path)
    await store.close()
    for suffix in ("", "-wal", "-shm"):
        file = tmp_path / f"data.threads.db{suffix}"
        file.touch()
        file.chmod(0o644)
    store = SqliteThreads.open(path)
    for suffix in ("", "-wal", "-shm"):
        assert stat.S_IMODE((tmp_path / f"data.threads.db{suffix}").stat().st_mode) == 0o600
    await store.close()


def test_git_ignores_every_data_file() -> None:
    root = Path(__file__).resolve().parents[4]
    names = [
        "data.json",
        "data.json.journal",
        "data.json.corrupt-20240101-000000",
        "data.json.journal.corrupt-20240101-000000",
        ".data.json.123.tmp",
        "data.threads.db",
        "data.threads.db-wal",
        "data.threads.db-shm",
        "data.threads.db.corrupt-20240101-000000-wal",
    ]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=root, capture_output=True, text=True
    )
    assert sorted(result.stdout.split()) == sorted(names)


async def test_a_small_data_file_is_rewritten_once_the_journal_outgrows_it(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)  # snapshot_every: 10 000 records
    await store.register(user("5", 10**9))
    journal = tmp_path / "data.json.journal"
    sizes = []
    for _ in range(200):
        await store.settle("5", Spend(1))
        sizes.append(journal.stat().st_size)
    assert max(sizes) < 6_000  # folded at about 4 KB, far below 10 000 records
    assert json.loads(path.read_text())["5"]["requests"] >= 100
    crash(store)
    again = JsonAccounts.open(path)
    assert await again.get("5") == user("5", 10**9 - 200, requests=200, tokens=200)
    await again.close()
