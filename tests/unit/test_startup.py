"""A bot process starts with the cyclic garbage collector paused, and what start-up made is
frozen once the bot is built (``entrypoints.startup``); nothing of it leaks into tests or
commands that build no bot."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrypoints import startup
from entrypoints.bootstrap import build_bot
from entrypoints.settings import settings_from
from tests.fakes import RecordingSink


@pytest.fixture(autouse=True)
def _collector_as_it_was() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # this test process goes on: what a test froze is collectable again
    gc.set_threshold(*thresholds)
    gc.enable()


async def test_the_collector_is_paused_until_the_bot_is_built_then_start_up_is_frozen(
    tmp_path: Path,
) -> None:
    settings = settings_from({"DATA_FILE": str(tmp_path / "data.json")}, tmp_path)
    frozen = gc.get_freeze_count()
    with startup.collector_paused():
        assert not gc.isenabled()
        bot = await build_bot(settings, admin_id="1", sink=RecordingSink())
        assert gc.isenabled()  # answering runs with the collector, less often
        assert gc.get_threshold()[0] == startup.YOUNGEST
        assert gc.get_freeze_count() > frozen + 1_000  # the modules, the bot, its stores
    assert gc.isenabled()
    await bot.close()


def test_a_start_that_builds_no_bot_gives_the_collector_back_unfrozen() -> None:
    frozen = gc.get_freeze_count()

    def configuration_error() -> None:
        with startup.collector_paused():
            assert not gc.isenabled()
            raise SystemExit(2)

    with pytest.raises(SystemExit):
        configuration_error()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


async def test_a_bot_built_without_a_pause_freezes_nothing(tmp_path: Path) -> None:
    """Tests and tools build bots in a process that goes on: none of it is frozen."""
    settings = settings_from({"DATA_FILE": str(tmp_path / "data.json")}, tmp_path)
    frozen = gc.get_freeze_count()
    bot = await build_bot(settings, admin_id="1", sink=RecordingSink())
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()
    assert gc.get_threshold()[0] != startup.YOUNGEST
    await bot.close()


def test_the_gptbot_command_runs_paused_and_gives_the_collector_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from entrypoints import cli

    seen: list[bool] = []

    def transfer(*args: object) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(cli, "transfer", transfer)
    assert cli.main(["export", "data.json"]) == 0
    assert seen == [False]
    assert gc.isenabled()


def test_a_module_kept_out_fails_to_import_in_the_block_and_imports_after_it() -> None:
    import json  # imported already: left alone

    name = "gptbot_no_such_module_here"
    with startup.unused_kept_out(("json", name)):
        assert sys.modules["json"] is json
        with pytest.raises(ImportError):
            importlib.import_module(name)
    assert name not in sys.modules  # as if never tried
    with pytest.raises(ModuleNotFoundError):  # the real outcome again, not the block's
        importlib.import_module(name)


_SDKS_LOADED = """
import asyncio, sys
import entrypoints.telegram  # Telethon, as ``gptbot telegram`` loads it
from entrypoints.bootstrap import build_bot
from entrypoints.settings import settings_from
from tests.fakes import RecordingSink

env = {"OPENAI_API_KEY": "sk-test", "DATA_FILE": sys.argv[1]}
bot = asyncio.run(build_bot(settings_from(env), admin_id="1", sink=RecordingSink()))
import openai, telethon.client.downloads as downloads
print("aiohttp" in sys.modules, downloads.aiohttp is None)
import aiohttp  # installed here (the Matrix extra): still imports once the bot is built
print(aiohttp.ClientSession.__name__)
"""


def test_the_telegram_bot_starts_without_importing_aiohttp_and_it_still_imports_after(
    tmp_path: Path,
) -> None:
    pytest.importorskip("aiohttp")
    result = subprocess.run(
        [sys.executable, "-c", _SDKS_LOADED, str(tmp_path / "data.json")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "ClientSession"]


def test_a_bot_on_data_json_has_it_parsed_meanwhile_and_others_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.storage.json import preload as preloading

    monkeypatch.setattr(preloading, "MINIMUM", 0)
    monkeypatch.setattr(preloading, "_cores", lambda: 2)
    data = tmp_path / "data.json"
    data.write_text('{"global": {"requests": 0, "tokens": 0}}')
    env = {"DATA_FILE": str(data)}
    assert startup.preloaded({**env, "DATABASE_URL": "postgresql://127.0.0.1/none"}) is None
    assert startup.preloaded({**env, "MESSAGE_FORMAT": "nonsense"}) is None  # main says why
    preload = startup.preloaded(env)
    if not hasattr(__import__("os"), "memfd_create"):
        assert preload is None
        return
    assert preload is not None
    assert preload.path == data
    preload.discard()


def test_gptbot_telegram_lets_the_preload_go_when_it_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start that ends before the bot is built (here: no Telegram settings) leaves no child
    parsing data.json behind."""
    import os

    from adapters.storage.json import preload as preloading
    from entrypoints import cli

    monkeypatch.setattr(preloading, "MINIMUM", 0)
    monkeypatch.setattr(preloading, "_cores", lambda: 2)
    started: list[preloading.Preload] = []
    start = preloading.Preload.start.__func__  # type: ignore[attr-defined]

    def recorded(cls: type[preloading.Preload], path: Path, minimum: int | None = None) -> object:
        preload = start(cls, path, minimum)
        if preload is not None:
            started.append(preload)
        return preload

    monkeypatch.setattr(preloading.Preload, "start", classmethod(recorded))
    data = tmp_path / "data.json"
    data.write_text('{"global": {"requests": 0, "tokens": 0}}')
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATA_FILE", str(data))
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    assert cli.main(["telegram", "--env-file", str(env_file)]) == 2  # no Telegram settings
    if hasattr(os, "memfd_create"):
        assert len(started) == 1
        with pytest.raises(ChildProcessError):
            os.waitpid(started[0]._pid, os.WNOHANG)  # waited for: no zombie


async def test_a_start_that_fails_after_the_stores_opened_lets_them_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a preload the stores are opened first: a failure after that (here: making the
    models) closes them, so data.json's lock is free again for the next start."""
    from adapters.storage.json.accounts import JsonAccounts
    from entrypoints import bootstrap

    data = tmp_path / "data.json"
    settings = settings_from({"DATA_FILE": str(data)}, tmp_path)

    def failing(*args: object) -> object:
        raise RuntimeError("the models")

    monkeypatch.setattr(bootstrap, "build_models", failing)
    with pytest.raises(RuntimeError):
        await build_bot(settings, admin_id="1", sink=RecordingSink())
    again = JsonAccounts.open(data)  # refused while a store still holds the lock
    await again.close()


async def test_a_bot_built_on_a_preload_takes_what_the_child_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from adapters.storage.json import format as fmt
    from adapters.storage.json import preload as preloading

    if not hasattr(os, "memfd_create"):
        pytest.skip("Linux only")
    monkeypatch.setattr(preloading, "_cores", lambda: 2)
    data = tmp_path / "data.json"
    data.write_text('{"7": {"balance": 5}, "global": {"requests": 0, "tokens": 0}}')
    started = preloading.Preload.start(data, minimum=0)
    assert started is not None
    monkeypatch.setattr(fmt, "parse", None)  # this process does not parse: the child did
    settings = settings_from({"DATA_FILE": str(data)}, tmp_path)
    bot = await build_bot(settings, admin_id="1", sink=RecordingSink(), preload=started)
    account = await bot.accounts.get("7")
    assert account is not None
    assert account.balance == 5
    await bot.close()


def test_gptbot_telegram_hands_its_preload_to_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entrypoints import cli, telegram

    class Started:
        discarded = False

        def discard(self) -> None:  # taken or not, let go once the bot has run
            self.discarded = True

    started = Started()
    handed: list[object] = []
    monkeypatch.setattr(startup, "preloaded", lambda env: started)

    def main(environ: object = None, env_file: object = None, preload: object = None) -> int:
        handed.append(preload)
        return 0

    monkeypatch.setattr(telegram, "main", main)
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    assert cli.main(["telegram", "--env-file", str(env_file)]) == 0
    assert handed == [started]
    assert started.discarded
