"""data.json: the older bot's format, crash-safe writes, refusing files it cannot trust."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.json.format import Unwritable, check_account
from core.errors import CorruptData, StorageError
from core.values import Account, Totals
from tests.adapters.storage.json.test_contract import crash, user
from tests.fakes import Entry

ROOT = Path(__file__).resolve().parents[4]

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


async def test_seed_file_loads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(SEED)
    store = JsonAccounts.open(path)
    assert await store.count() == 3
    assert await store.totals() == Totals(5, 200)
    assert await store.get("987654321") == user(
        "987654321",
        -50,
        requests=2,
        tokens=80,
        name="Иван",
        username=None,
        last_request=dt.datetime(2023, 4, 3, 5, 6, 7),
        prompt="You are Marv - a sarcastic reluctant assistant",
    )
    admin = await store.get("123456789")
    assert admin is not None
    assert admin.last_request == dt.datetime(2023, 2, 1, 10, 11, 12)
    john = await store.get("555")
    assert john is not None
    assert john.username == "johndoe"
    await store.close()


async def test_seed_file_is_written_back_whole_in_the_documented_format(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(SEED)
    store = JsonAccounts.open(path)
    await store.settle("555", Entry(lambda a: attrs.evolve(a, balance=29_000), Totals(1, 1_000)))
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
    again = JsonAccounts.open(path)
    assert await again.get("987654321") == await store.get("987654321")
    await again.close()


async def test_accounts_built_on_first_use_are_written_back_byte_for_byte(
    tmp_path: Path,
) -> None:
    """Start-up keeps the accounts read as their checked fields and builds each on first use:
    data.json written out is the same bytes whether none, some or all of them were built."""
    from adapters.storage.json import format as fmt

    data = SEED.encode()
    untouched = fmt.joined(fmt.serialize(fmt.parse(data)))
    some = fmt.parse(data)
    first = some.accounts["555"]
    assert some.accounts["555"] is first  # built once, then kept
    all_built = fmt.parse(data)
    assert dict(all_built.accounts) == dict(some.accounts.each())
    assert fmt.joined(fmt.serialize(some)) == untouched
    assert fmt.joined(fmt.serialize(all_built)) == untouched
    path = tmp_path / "data.json"
    path.write_bytes(untouched)
    store = JsonAccounts.open(path)
    await store.change("555", lambda account: account)  # a journal record: close rewrites
    await store.close()
    assert path.read_bytes() == untouched


async def test_missing_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    assert await store.count() == 0
    assert json.loads(path.read_text()) == {"global": {"requests": 0, "tokens": 0}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await store.close()


async def test_close_leaves_everything_in_data_json(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("1", 5))
    await store.settle("1", Entry(lambda a: a, Totals(1, 2)))
    await store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json", "data.json.journal"]
    assert (tmp_path / "data.json.journal").read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data.json.journal").stat().st_mode) == 0o600
    written = json.loads(path.read_text())
    assert written["1"]["balance"] == 5
    assert written["global"] == {"requests": 1, "tokens": 2}


async def test_the_journal_is_folded_into_data_json_every_snapshot_every_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path, snapshot_every=10)
    for n in range(1, 26):
        await store.register(user(str(n), n))
    lines = (tmp_path / "data.json.journal").read_bytes().count(b"\n")
    assert lines == 5
    assert len(json.loads(path.read_text())) == 1 + 20
    crash(store)
    again = JsonAccounts.open(path)
    assert await again.count() == 25
    await again.close()


async def test_concurrent_changes_are_grouped_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    syncs = 0
    original = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        original(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    await asyncio.gather(*(store.register(user(str(n), n)) for n in range(1, 51)))
    assert syncs < 50
    # A register returns before the group commit's after-step (a fold may still be rewriting
    # data.json in a worker thread, on the journal's descriptor): the crash comes after it.
    await store._commits.drain()
    crash(store)
    reloaded = JsonAccounts.open(path)
    assert await reloaded.count() == 50
    await reloaded.close()


async def test_a_second_bot_on_the_same_file_is_refused_until_the_first_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.json"
    first = JsonAccounts.open(path)
    await first.register(user("1", 5))
    with pytest.raises(StorageError, match="in use by another running bot"):
        JsonAccounts.open(path)
    assert await first.get("1") is not None  # the running one goes on untouched
    await first.register(user("2", 6))
    await first.close()
    second = JsonAccounts.open(path)
    assert await second.count() == 2
    await second.close()


def test_the_lock_is_held_across_processes(tmp_path: Path) -> None:
    """Another process (a second bot, the console) is refused while this one has the file."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    code = (
        "import sys; from pathlib import Path\n"
        "from adapters.storage.json.accounts import JsonAccounts\n"
        "from core.errors import StorageError\n"
        "try:\n    JsonAccounts.open(Path(sys.argv[1]))\n"
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


def test_a_model_chosen_survives_sigkill(tmp_path: Path) -> None:
    """A process that reported the change saved is killed: the next start has the change."""
    path = tmp_path / "data.json"
    path.write_text('{"5": {"balance": 100, "lang_model": "old"}}')
    code = (
        "import asyncio, sys, time, attrs; from pathlib import Path\n"
        "from adapters.storage.json.accounts import JsonAccounts\n"
        "async def main():\n"
        "    store = JsonAccounts.open(Path(sys.argv[1]))\n"
        "    await store.change('5', lambda a: attrs.evolve(a, model='gpt-ünï', balance=99))\n"
        "    print('saved', flush=True)\n"
        "    time.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "saved\n"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()
    assert json.loads(path.read_text())["5"]["lang_model"] == "old"  # only in the journal

    async def reopened() -> Account | None:
        again = JsonAccounts.open(path)
        try:
            return await again.get("5")
        finally:
            await again.close()

    assert asyncio.run(reopened()) == user("5", 99, model="gpt-ünï")
    assert json.loads(path.read_text())["5"]["lang_model"] == "gpt-ünï"


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
        ('{"5": {"balance": 1, "lang_model": 4}}', "'lang_model' must be text, found 4"),
        ('{"5": {"balance": 1, "lang_model": ["gpt-4"]}}', "'lang_model' must be text"),
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
        JsonAccounts.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    assert path.read_bytes() == data
    copies = list(tmp_path.glob("data.json.corrupt-*"))
    assert len(copies) == 1
    assert str(copies[0]) in message
    assert copies[0].read_bytes() == data


async def test_missing_global_is_rebuilt_from_the_users(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(
        '{"5": {"balance": 1, "requests": 2, "tokens": 30}, "6": {"balance": 1, "tokens": 4}}'
    )
    store = JsonAccounts.open(path)
    assert await store.totals() == Totals(2, 34)
    await store.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(CorruptData, match="cannot be read"):
        JsonAccounts.open(path)


async def test_a_full_disk_keeps_nothing_of_the_failed_change(tmp_path: Path) -> None:
    """/dev/full: the full disk of ``test_json_contract`` where no tmpfs can be mounted (its
    small disk needs root), so this runs everywhere."""
    path = tmp_path / "data.json"
    store = JsonAccounts.open(path)
    await store.register(user("2", 20))
    fd = store._journal_fd
    assert fd is not None
    journal = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC, as on a full disk
    os.dup2(full, fd)
    with pytest.raises(StorageError, match="No space left"):
        await store.register(user("1", 10))
    with pytest.raises(StorageError, match="No space left"):
        await store.settle("2", Entry(lambda a: attrs.evolve(a, balance=0), Totals(1, 1)))
    assert await store.get("1") is None  # reported failed: not in memory either
    assert await store.get("2") == user("2", 20)
    assert await store.totals() == Totals()
    os.dup2(journal, fd)  # space again
    os.close(full)
    os.close(journal)
    await store.settle("2", Entry(lambda a: attrs.evolve(a, balance=19), Totals(2, 2)))
    crash(store)
    reloaded = JsonAccounts.open(path)  # from the journal
    assert await reloaded.count() == 1
    assert await reloaded.get("2") == user("2", 19)
    assert await reloaded.totals() == Totals(2, 2)
    await reloaded.close()


@pytest.mark.parametrize(
    "content",
    [
        '{"global": {"requests": 1, "tokens": 2}, "5": {"balance": 3}}',
        '  {\n\t"5" :{"balance":3} ,"global":{"requests":1,"tokens":2}\r\n}\n',
        '\ufeff{"5": {"balance": 3, "nested": {"a": [1, {"b": "}"}]}}, "global": {}}',
    ],
)
async def test_any_json_layout_loads(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    store = JsonAccounts.open(path)
    account = await store.get("5")
    assert account is not None
    assert account.balance == 3
    await store.close()


@pytest.mark.parametrize(
    "content",
    ['{"5": {"balance": 3}} extra', '{"5": {"balance": 3},}', '{"5" {"balance": 3}}', "{", ""],
)
def test_broken_json_layouts_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(CorruptData, match=r"not valid JSON|JSON object"):
        JsonAccounts.open(path)


def test_a_data_file_that_cannot_be_read_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.mkdir()  # unreadable as a file even for root, unlike a chmod
    with pytest.raises(CorruptData) as caught:
        JsonAccounts.open(path)
    message = str(caught.value)
    assert "cannot be read" in message
    assert "no copy could be made" in message
    assert path.is_dir()


def test_every_value_of_an_entry_reaches_its_own_field() -> None:
    """Entries are read into accounts positionally (start-up time): each value read must land
    in the field of its name, whatever order Account declares them in."""
    from adapters.storage.json.format import read_account

    entry = {
        "requests": 3,
        "tokens": 5,
        "balance": 7,
        "name": "Name",
        "username": "@handle",
        "lastdate": "01.02.2023 10:11:12",
        "prompt": "Prompt",
        "blacklist": True,
        "lang_model": "gpt-x",
    }
    account, _ = read_account("42", entry, check_texts=False)
    assert account == Account(
        user_id="42",
        balance=7,
        requests=3,
        tokens=5,
        name="Name",
        username="handle",
        last_request=dt.datetime(2023, 2, 1, 10, 11, 12),
        prompt="Prompt",
        banned=True,
        model="gpt-x",
    )


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        (Account("5", 10**15), "balance"),
        (Account("5", True), "balance"),  # a bool is no number here
        (Account("5", 1, allowance=-(10**15)), "allowance"),
        (Account("05", 1), "user id"),
        (Account("5", 1, name="\udc80"), "lone surrogate"),
        (Account("5", 1, mode=b"x"), "mode"),  # type: ignore[arg-type]
    ],
)
def test_a_change_that_cannot_be_written_back_is_refused(account: Account, problem: str) -> None:
    with pytest.raises(Unwritable, match=problem):
        check_account(account)


def test_text_beyond_ascii_is_written_back() -> None:
    check_account(Account("@élodie:example.org", 1, name="Élodie 😀", prompt="Réponds en français"))


@pytest.mark.parametrize(
    "dates",
    [
        '"lastdate": "01.02.2023 10+05:00"',
        '"last_request": "2023-02-01 10+05:00"',
        '"lastdate": "01.02.2023 10+05:00", "last_request": "2023-02-01 10+05:00"',
    ],
)
async def test_a_date_with_a_zone_is_kept_as_it_was_not_a_crash(tmp_path: Path, dates: str) -> None:
    """No bot writes a zone; a date with one (19 characters, like ours) was compared with a
    date without and stopped the start with a TypeError. It is kept as written, as a
    placeholder is, and the account has no last request from it."""
    path = tmp_path / "data.json"
    seed = '{"1": {"requests": 0, "tokens": 0, "balance": 5, ' + dates + "}}"
    path.write_text(seed)
    store = JsonAccounts.open(path)
    account = await store.get("1")
    assert account == Account("1", 5)
    await store.change("1", lambda account: account)  # a record: close rewrites data.json
    await store.close()
    written = json.loads(path.read_text())["1"]
    for key, value in json.loads(seed)["1"].items():  # the dates among them, as they were
        assert written[key] == value
