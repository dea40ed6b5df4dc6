"""data.json parsed in a second process (``preload``): the store gets what its own parse would
give, or parses itself; never a file other than the one it read."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from adapters.storage.json import format as fmt
from adapters.storage.json import preload as preloading
from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.json.preload import Preload
from core.errors import CorruptData, StorageError
from core.values import Account
from tests.adapters.storage.json.test_accounts import SEED

DATE = dt.datetime(2023, 2, 1, 10, 11, 12)  # "01.02.2023 10:11:12", as ``many`` writes it

pytestmark = pytest.mark.skipif(
    not (hasattr(os, "fork") and hasattr(os, "memfd_create")), reason="Linux only"
)


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preloading, "_cores", lambda: 2)  # whatever this machine has
    monkeypatch.setattr(preloading, "PART", 64)  # results of many parts


_children: list[int] = []


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    """Whatever a test did, no child it started outlives it (a test that fails because a child
    was not stopped must not leave it running)."""
    yield
    while _children:
        with contextlib.suppress(OSError):
            os.kill(_children.pop(), signal.SIGKILL)


def started(path: Path) -> Preload:
    preload = Preload.start(path, minimum=0)
    assert preload is not None
    _children.append(preload._pid)
    return preload


def child_gone(preload: Preload) -> bool:
    """The child has been waited for (no zombie left)."""
    try:
        os.waitpid(preload._pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def many(users: int) -> bytes:
    """A data.json with ``users`` accounts of every shape: dates and none, kept keys, text."""
    entries = [f'"global": {{"requests": {users}, "tokens": 7, "since": "2023"}}']
    for n in range(users):
        extra = ', "lang": "ru", "flags": [1, 2.5, {"x": null}]' if n % 7 == 0 else ""
        date = '"lastdate": "01.02.2023 10:11:12"' if n % 3 else '"last_request": null'
        entries.append(
            f'"{1000 + n}": {{"requests": {n}, "tokens": {n * 3}, "balance": {30_000 - n}, '
            f'"name": "Имя {n} 🙂", "username": "@u{n}", {date}{extra}}}'
        )
    entries.append('"settings": {"kept": true}')
    return ("{\n" + ",\n".join(entries) + "\n}\n").encode()


@pytest.mark.parametrize("data", [SEED.encode(), many(3_000)], ids=["seed", "3000 users"])
def test_a_preload_gives_what_the_stores_own_parse_gives(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(data)
    preload = started(path)
    taken = preload.contents(path)
    assert child_gone(preload)
    expected = fmt.parse(data)
    assert taken is not None
    got, size = taken
    assert size == len(data)
    assert dict(got.accounts) == dict(expected.accounts)  # built: dates from their text too
    assert (got.extras, got.totals) == (expected.extras, expected.totals)
    assert (got.global_extra, got.top_extra) == (expected.global_extra, expected.top_extra)
    written = fmt.joined(fmt.serialize(fmt.parse(data)))
    assert fmt.joined(fmt.serialize(got)) == written  # written back byte for byte
    for field in attrs.fields(fmt.Contents):  # every part of the contents made the journey
        mine, theirs = getattr(got, field.name), getattr(expected, field.name)
        if isinstance(mine, fmt.Accounts):
            mine, theirs = dict(mine), dict(theirs)
        assert mine == theirs, field.name


async def test_a_store_opened_on_a_preload_is_the_store_opened_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(many(500))
    plain = JsonAccounts.open(path)
    expected = [await plain.get(str(1000 + n)) for n in range(500)]
    await plain.close()
    preload = started(path)
    with monkeypatch.context() as patched:  # this process does not parse: the child did
        patched.setattr(fmt, "parse", None)
        store = JsonAccounts.open(path, preload=preload)
    assert [await store.get(str(1000 + n)) for n in range(500)] == expected
    await store.change("1003", lambda account: attrs.evolve(account, balance=5))
    await store.close()
    again = JsonAccounts.open(path)
    before = expected[3]
    assert before is not None
    assert await again.get("1003") == attrs.evolve(before, balance=5)
    await again.close()


async def test_a_file_changed_after_the_child_read_it_is_read_again(tmp_path: Path) -> None:
    """Another bot that stopped (and rewrote data.json) between the child's read and this
    store's lock: what the child parsed is old, and is not taken."""
    path = tmp_path / "data.json"
    path.write_bytes(many(200))
    preload = started(path)
    deadline = time.monotonic() + 60
    while os.fstat(preload._fd).st_size == 0:  # the child writes once it has read and parsed
        assert time.monotonic() < deadline, "the child wrote nothing"
        await asyncio.sleep(0.01)
    path.write_bytes(path.read_bytes().replace(b'"balance": 30000', b'"balance": 1'))
    store = JsonAccounts.open(path, preload=preload)
    assert await store.get("1000") == Account("1000", 1, name="Имя 0 🙂", username="u0")
    await store.close()
    assert child_gone(preload)


def test_a_damaged_file_is_refused_as_without_a_preload(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b'{"1": {"balance": 5}, "1": {"balance": 6}}')
    with pytest.raises(CorruptData, match="appears twice"):
        JsonAccounts.open(path)
    preload = started(path)
    with pytest.raises(CorruptData, match="appears twice"):
        JsonAccounts.open(path, preload=preload)  # the child failed: the store's parse says why
    assert child_gone(preload)


async def test_a_store_that_cannot_open_lets_its_preload_go(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(many(100))
    first = JsonAccounts.open(path)
    preload = started(path)
    with pytest.raises(StorageError):
        JsonAccounts.open(path, preload=preload)  # the first has it
    assert child_gone(preload)
    assert preload.contents(path) is None  # let go: nothing more to take
    await first.close()


def test_a_preload_is_only_started_where_it_pays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    assert Preload.start(path, minimum=0) is None  # no file yet
    path.write_bytes(many(10))
    assert Preload.start(path) is None  # smaller than MINIMUM
    monkeypatch.setattr(preloading, "_cores", lambda: 1)
    assert Preload.start(path, minimum=0) is None  # one core: both would take turns


def test_a_discarded_preload_leaves_no_child(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(many(2_000))
    preload = started(path)
    preload.discard()
    assert child_gone(preload)
    preload.discard()  # twice: nothing more happens


@pytest.mark.parametrize("result", [b"", b"\x05\x00", b"\xff" * 64])
async def test_a_result_that_cannot_be_read_back_is_parsed_again(
    tmp_path: Path, result: bytes
) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(many(50))
    fd = os.memfd_create("result")
    os.write(fd, result)
    pid = os.fork()
    if pid == 0:  # a child that exits as if it had written ``result``
        os._exit(0)
    preload = Preload(path, pid, fd)
    store = JsonAccounts.open(path, preload=preload)
    assert await store.count() == 50
    assert await store.get("1001") == Account(
        "1001", 29_999, 1, 3, name="Имя 1 🙂", username="u1", last_request=DATE
    )
    await store.close()
    assert child_gone(preload)


@pytest.fixture
def parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Preload:
    """A preload whose child never finishes parsing (it waits for a signal): to be stopped."""

    def parse_for_ever(path: Path, fd: int) -> None:
        signal.pause()

    monkeypatch.setattr(preloading, "_parse_into", parse_for_ever)
    path = tmp_path / "data.json"
    path.write_bytes(many(10))
    return started(path)


def within_a_minute(work: Callable[[], object]) -> BaseException | None:
    """Runs ``work`` in a thread; fails the test if it has not returned in a minute (a child
    that never finishes, waited for instead of stopped). What it raised, if anything."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "still waiting for a child that should have been stopped"
    return raised[0] if raised else None


def test_a_discarded_preload_stops_a_child_still_parsing(parsing: Preload) -> None:
    assert within_a_minute(parsing.discard) is None
    assert child_gone(parsing)


def test_a_wait_interrupted_by_ctrl_c_stops_the_child(
    parsing: Preload, monkeypatch: pytest.MonkeyPatch
) -> None:
    preload = parsing
    waits = iter([KeyboardInterrupt])
    real_wait = os.waitpid

    def interrupted(pid: int, options: int) -> tuple[int, int]:
        for interruption in waits:  # the first wait only
            raise interruption()
        return real_wait(pid, options)

    monkeypatch.setattr(os, "waitpid", interrupted)
    raised = within_a_minute(lambda: preload.contents(preload.path))
    assert isinstance(raised, KeyboardInterrupt)
    monkeypatch.setattr(os, "waitpid", real_wait)
    assert child_gone(preload)


def test_a_store_that_cannot_open_its_journal_lets_its_preload_go(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(many(10))
    (tmp_path / "data.json.journal").mkdir()  # the journal cannot be opened at all
    preload = started(path)
    with pytest.raises(StorageError, match="cannot open its journal"):
        JsonAccounts.open(path, preload=preload)
    assert child_gone(preload)
