"""PostgreSQL selected by DATABASE_URL: the console bot on it, `gptbot import` / `export`, and
the Telegram bot standing by while another process receives."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.receiver import ReceiverLock
from entrypoints import cli
from entrypoints.console import run_console
from entrypoints.settings import ConfigError, settings_from
from entrypoints.telegram import _receiver

pytestmark = pytest.mark.postgres


async def test_the_console_bot_charges_into_postgresql(database_url: str, tmp_path: Path) -> None:
    settings = settings_from(
        {"DATABASE_URL": database_url, "OFFLINE_MODEL_DELAY": "0", "ADMIN_CHAT_ID": "1"}, tmp_path
    )
    out = io.StringIO()
    assert await run_console(settings, io.StringIO("hello\n/balance\n"), out) == 0
    assert not (tmp_path / "data.json").exists()  # nothing went to the embedded store
    store = await PostgresAccountStore.open(database_url)
    try:
        account = await store.get("100")
        assert account is not None
        assert account.requests == 1
        assert account.balance == 30_000 - account.tokens
        assert f"Your balance: {account.balance:,} tokens.".replace(",", " ") in out.getvalue()
    finally:
        await store.close()


async def test_the_console_on_postgresql_says_so_and_numbers_messages_short(
    database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "OFFLINE_MODEL_DELAY": "0", "ADMIN_CHAT_ID": "1"}
    settings = settings_from({**env, "NOTIFY_ADMIN_NEW_USERS": "false"}, tmp_path)
    out = io.StringIO()
    script = "first question\n>2 second question\n"  # 2: the answer to message 1
    assert await run_console(settings, io.StringIO(script), out) == 0
    shown = out.getvalue()
    assert "data in PostgreSQL" in shown
    assert "data.json" not in shown
    assert database_url not in shown
    assert "[1] You (100): first question" in shown
    assert "[2] bot → user 100: Offline model" in shown
    assert "[3] You (100) ↪ 2: second question" in shown
    assert "I received 3 turn(s): 2 earlier" in shown  # the reply found its thread by id


def test_import_and_export_from_the_command_line(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"global": {"requests": 1, "tokens": 9}, "42": {"balance": 7}}))
    assert cli.main(["import", str(source)]) == 0
    assert f"imported 1 account from {source}" in capsys.readouterr().out
    assert cli.main(["import", str(source)]) == 2  # never into a database that has accounts
    target = tmp_path / "back.json"
    assert cli.main(["export", str(target)]) == 0
    exported = json.loads(target.read_text())
    assert exported["42"]["balance"] == 7
    assert exported["global"] == {"requests": 1, "tokens": 9}


def test_a_database_url_must_be_postgresql() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        settings_from({"DATABASE_URL": "mysql://somewhere/db"})


async def test_a_second_telegram_bot_stands_by_until_the_first_lets_go(database_url: str) -> None:
    settings = settings_from(
        {
            "DATABASE_URL": database_url,
            "TELEGRAM_API_KEY": "123456:secret-part",
            "TELEGRAM_API_ID": "1",
            "TELEGRAM_API_HASH": "hash",
            "ADMIN_CHAT_ID": "1",
        }
    )
    first = await _receiver(settings)
    assert first is not None
    standing_by = asyncio.Event()  # the second has tried, been refused, and says so
    said = _Heard("standing by until it stops", standing_by)
    logging.getLogger("entrypoints.telegram").addHandler(said)
    try:
        second = asyncio.create_task(_receiver(settings))
        await asyncio.wait_for(standing_by.wait(), timeout=60)  # a guard against a hang only
    finally:
        logging.getLogger("entrypoints.telegram").removeHandler(said)
    assert not second.done()
    await first.release()
    lock = await asyncio.wait_for(second, timeout=5)
    assert isinstance(lock, ReceiverLock)
    await lock.release()


class _Heard(logging.Handler):
    """Sets ``event`` when a log record says ``words``."""

    def __init__(self, words: str, event: asyncio.Event) -> None:
        super().__init__()
        self.words, self.event = words, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()
