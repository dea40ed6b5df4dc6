"""data.json: the seed's format, crash-safe writes, refusing files it cannot trust."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from adapters.storage.json_accounts import JsonAccountStore
from core.errors import CorruptData, StorageError
from core.values import Account, Totals

ROOT = Path(__file__).resolve().parents[2]

SEED = """{
  "123456789": {"requests": 3, "tokens": 120, "balance": 777777, "lastdate": "01.02.2023 10:11:12"},
  "global": {"requests": 5, "tokens": 200, "since": "2023"},
  "987654321": {"requests": 2, "tokens": 80, "balance": -50, "name": "\\u0418\\u0432\\u0430\\u043d",
                "username": "None", "lastdate": "03-04-2023 05:06:07",
                "prompt": "You are Marv - a sarcastic reluctant assistant", "lang": "ru"},
  "555": {"requests": 0, "tokens": 0, "balance": 30000, "username": "@johndoe",
          "last_request": "2021-01-01 00:00:00"},
  "settings": {"kept": true}
}"""


def crash(store: JsonAccountStore) -> None:
    """What dying does to an open store: its files are let go, and nothing more is written."""
    assert store._journal_fd is not None
    os.close(store._journal_fd)
    store._journal_fd = None


def test_seed_file_loads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(SEED)
    store = JsonAccountStore.open(path)
    assert store.accounts() == 3
    assert store.totals() == Totals(5, 200)
    ivan = store.get(987654321)
    assert ivan == Account(
        user_id=987654321,
        balance=-50,
        requests=2,
        tokens=80,
        name="Иван",
        username=None,
        last_request=dt.datetime(2023, 4, 3, 5, 6, 7),
        prompt="You are Marv - a sarcastic reluctant assistant",
    )
    admin = store.get(123456789)
    assert admin is not None
    assert admin.last_request == dt.datetime(2023, 2, 1, 10, 11, 12)
    john = store.get(555)
    assert john is not None
    assert john.username == "johndoe"


async def test_seed_file_is_written_back_whole_in_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(SEED)
    store = JsonAccountStore.open(path)
    john = store.get(555)
    assert john is not None
    await store.save([attrs.evolve(john, balance=29_000)], Totals(6, 1_200))
    await store.close()
    written = json.loads(path.read_text())
    assert list(written) == ["global", "settings", "123456789", "987654321", "555"]
    assert written["global"] == {"requests": 6, "tokens": 1_200, "since": "2023"}
    assert written["settings"] == {"kept": True}
    assert written["987654321"] == {
        "requests": 2,
        "tokens": 80,
        "balance": -50,
        "name": "Иван",
        "username": "None",
        "lastdate": "03.04.2023 05:06:07",
        "prompt": "You are Marv - a sarcastic reluctant assistant",
        "lang": "ru",
    }
    assert written["555"]["balance"] == 29_000
    assert written["555"]["username"] == "@johndoe"
    assert written["555"]["last_request"] == "2021-01-01 00:00:00"  # kept where it was found
    assert written["555"]["lastdate"] == "01.01.2021 00:00:00"
    again = JsonAccountStore.open(path)
    assert again.get(987654321) == store.get(987654321)


def test_missing_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    assert store.accounts() == 0
    assert json.loads(path.read_text()) == {"global": {"requests": 0, "tokens": 0}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_close_leaves_everything_in_data_json(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    await store.save([Account(user_id=1, balance=5)], Totals(1, 2))
    await store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json", "data.json.journal"]
    assert (tmp_path / "data.json.journal").read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data.json.journal").stat().st_mode) == 0o600
    assert json.loads(path.read_text())["1"]["balance"] == 5


async def test_a_crash_loses_nothing_that_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    await store.save([Account(user_id=1, balance=5, tokens=3)], Totals(1, 3))
    await store.save([Account(user_id=2, balance=7, tokens=4)], Totals(2, 7))
    # no close: the process died here; data.json is stale, the journal is not
    assert json.loads(path.read_text()) == {"global": {"requests": 0, "tokens": 0}}
    with (tmp_path / "data.json.journal").open("ab") as journal:
        journal.write(b'{"users": {"3": {"bala')  # torn by the crash
    crash(store)
    again = JsonAccountStore.open(path)
    assert again.accounts() == 2
    assert again.totals() == Totals(2, 7)
    assert json.loads(path.read_text())["2"]["balance"] == 7  # replayed into data.json at start


async def test_a_damaged_journal_record_before_the_last_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    await store.save([Account(user_id=1, balance=5)], Totals(1, 3))
    journal = tmp_path / "data.json.journal"
    journal.write_bytes(b"garbage\n" + journal.read_bytes())
    crash(store)
    with pytest.raises(CorruptData, match="record 1 is damaged"):
        JsonAccountStore.open(path)


async def test_the_journal_is_folded_into_data_json_periodically(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path, snapshot_every=10)
    for n in range(1, 26):
        await store.save([Account(user_id=n, balance=n)], Totals(n, n))
    lines = (tmp_path / "data.json.journal").read_bytes().count(b"\n")
    assert lines == 5
    assert len(json.loads(path.read_text())) == 1 + 20
    crash(store)
    assert JsonAccountStore.open(path).accounts() == 25


async def test_concurrent_saves_are_grouped_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    syncs = 0
    original = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        original(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    await asyncio.gather(*(store.save([Account(user_id=n, balance=n)]) for n in range(1, 51)))
    assert syncs < 50
    crash(store)
    reloaded = JsonAccountStore.open(path)
    assert reloaded.accounts() == 50


async def test_a_second_bot_on_the_same_file_is_refused_until_the_first_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.json"
    first = JsonAccountStore.open(path)
    await first.save([Account(user_id=1, balance=5)], Totals(1, 1))
    with pytest.raises(StorageError, match="in use by another running bot"):
        JsonAccountStore.open(path)
    assert first.get(1) is not None  # the running one goes on untouched
    await first.save([Account(user_id=2, balance=6)], Totals(2, 2))
    await first.close()
    second = JsonAccountStore.open(path)
    assert second.accounts() == 2
    await second.close()


def test_the_lock_is_held_across_processes(tmp_path: Path) -> None:
    """Another process (a second bot, the console) is refused while this one has the file."""
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    code = (
        "import sys; from pathlib import Path\n"
        "from adapters.storage.json_accounts import JsonAccountStore\n"
        "from core.errors import StorageError\n"
        "try:\n    JsonAccountStore.open(Path(sys.argv[1]))\n"
        "except StorageError as exc:\n    print(exc); sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 3, result.stderr
    assert "in use by another running bot" in result.stdout
    crash(store)  # the lock dies with its holder
    again = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT)
    assert again.returncode == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"global": {}, "5": {"balance": "lots"}}', "'balance' must be a whole number"),
        ('{"global": {}, "5": {"requests": 1}}', "'balance' must be a whole number"),
        ('{"global": {}, "5": {"balance": 1}, "5": {"balance": 2}}', "appears twice"),
        ('{"global": {}, "5": {"balance": 1}, "05": {"balance": 2}}', "'05' is not a plain"),
        ('{"global": [], "5": {"balance": 1}}', "'global' must be an object"),
        ('{"5": {"balance": 1, "name": 7}}', "'name' must be text"),
        ('{"5": "hello"}', "expected an object"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
def test_corrupt_file_refuses_to_start_and_is_untouched(
    tmp_path: Path, content: str | bytes, problem: str
) -> None:
    path = tmp_path / "data.json"
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    with pytest.raises(CorruptData) as caught:
        JsonAccountStore.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert path.read_bytes() == data
    copies = list(tmp_path.glob("data.json.corrupt-*"))
    assert len(copies) == 1
    assert str(copies[0]) in message
    assert copies[0].read_bytes() == data


def test_missing_global_is_rebuilt_from_the_users(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(
        '{"5": {"balance": 1, "requests": 2, "tokens": 30}, "6": {"balance": 1, "tokens": 4}}'
    )
    store = JsonAccountStore.open(path)
    assert store.totals() == Totals(2, 34)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(CorruptData, match="cannot be read"):
        JsonAccountStore.open(path)


async def test_a_full_disk_keeps_nothing_of_the_failed_save(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccountStore.open(path)
    fd = store._journal_fd
    assert fd is not None
    journal = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC, as on a full disk
    os.dup2(full, fd)
    with pytest.raises(StorageError, match="No space left"):
        await store.save([Account(user_id=1, balance=10)], Totals(1, 1))
    assert store.get(1) is None  # reported failed: not in memory either
    assert store.totals() == Totals()
    os.dup2(journal, fd)  # space again
    os.close(full)
    os.close(journal)
    await store.save([Account(user_id=2, balance=20)], Totals(2, 2))
    crash(store)
    reloaded = JsonAccountStore.open(path)  # from the journal
    assert reloaded.accounts() == 1
    assert reloaded.get(1) is None
    assert reloaded.totals() == Totals(2, 2)


@pytest.mark.parametrize(
    "content",
    [
        '{"global": {"requests": 1, "tokens": 2}, "5": {"balance": 3}}',
        '  {\n\t"5" :{"balance":3} ,"global":{"requests":1,"tokens":2}\r\n}\n',
        '\ufeff{"5": {"balance": 3, "nested": {"a": [1, {"b": "}"}]}}, "global": {}}',
    ],
)
def test_any_json_layout_loads(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    store = JsonAccountStore.open(path)
    account = store.get(5)
    assert account is not None
    assert account.balance == 3


@pytest.mark.parametrize(
    "content",
    ['{"5": {"balance": 3}} extra', '{"5": {"balance": 3},}', '{"5" {"balance": 3}}', "{", ""],
)
def test_broken_json_layouts_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(CorruptData, match=r"not valid JSON|JSON object"):
        JsonAccountStore.open(path)


def test_a_data_file_that_cannot_be_read_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.mkdir()  # unreadable as a file even for root, unlike a chmod
    with pytest.raises(CorruptData) as caught:
        JsonAccountStore.open(path)
    message = str(caught.value)
    assert "cannot be read" in message
    assert "no copy could be made" in message
    assert path.is_dir()
