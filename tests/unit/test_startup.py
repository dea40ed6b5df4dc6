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
