"""The ``gptbot`` command (its help is ``USAGE``, plain text for the terminal)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import StorageError
from entrypoints import startup

if TYPE_CHECKING:
    from core.values import DayUsage
    from entrypoints.settings import Settings

USAGE = """\
A ChatGPT bot for Telegram and Matrix, and a console to try it.

  gptbot console                 the console bot
  gptbot telegram                the Telegram bot
  gptbot matrix                  the Matrix bot
  gptbot import data.json        copy data.json's accounts into PostgreSQL (DATABASE_URL)
  gptbot export data.json        write PostgreSQL's accounts to a data.json
  gptbot export --usage FILE.csv tokens and Stars per day, the last 30 days (what /usage
                                 draws), from the store the settings name
"""


def main(argv: list[str] | None = None) -> int:
    with startup.collector_paused():  # until the bot is built (``entrypoints.startup``)
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="gptbot", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", choices=["console", "telegram", "matrix", "import", "export"], help="what to do"
    )
    parser.add_argument("file", nargs="?", type=Path, help="data.json, for import and export")
    parser.add_argument("--env-file", type=Path, default=None, help="settings file (.env)")
    parser.add_argument(
        "--usage", type=Path, metavar="FILE.csv", help="export: tokens and Stars per day, as CSV"
    )
    args = parser.parse_args(argv)
    if args.mode in ("telegram", "matrix"):
        return _messenger(args.mode, args.env_file)
    if args.mode == "console":
        from entrypoints import console

        return console.main(env_file=args.env_file)
    if args.usage is not None:
        if args.mode != "export" or args.file is not None:
            parser.error("write the usage with: gptbot export --usage FILE.csv")
        return export_usage(args.usage, args.env_file)
    if args.file is None:
        parser.error(f"{args.mode} needs the data.json file to read or write")
    return transfer(args.mode, args.file, args.env_file)


def _messenger(mode: str, env_file: Path | None) -> int:
    """``gptbot telegram`` and ``gptbot matrix``; the exit status."""
    from entrypoints.settings import load_environment

    env = load_environment(env_file)
    # data.json is parsed in a second process while this one imports the messenger's SDK.
    preload = startup.preloaded(env)
    try:
        if mode == "telegram":
            from entrypoints import telegram  # only the bot that runs is imported

            return telegram.main(environ=env, preload=preload)
        try:
            from entrypoints import matrix
        except ImportError as exc:  # the optional extra is not installed
            print(f"gptbot: pip install 'gptbot[matrix]' first ({exc})", file=sys.stderr)
            return 2
        return matrix.main(environ=env, preload=preload)
    finally:
        if preload is not None:
            preload.discard()  # when the bot was not built (nothing happens otherwise)


def transfer(mode: str, path: Path, env_file: Path | None) -> int:
    """``gptbot import`` / ``gptbot export``; the exit status."""
    from entrypoints.settings import ConfigError, load_environment, settings_from

    try:
        settings = settings_from(load_environment(env_file))
    except ConfigError as exc:
        print(f"gptbot: configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.database_url is None:
        print("gptbot: set DATABASE_URL to the PostgreSQL database first", file=sys.stderr)
        return 2
    try:
        from adapters.storage.postgres.transfer import export_data_json, import_data_json
    except ImportError:
        print("gptbot: pip install 'gptbot[postgres]' first", file=sys.stderr)
        return 2
    url = settings.database_url.reveal()
    try:
        if mode == "import":
            count = asyncio.run(import_data_json(url, path))
            print(f"imported {_accounts(count)} from {path}")
        else:
            count = asyncio.run(export_data_json(url, path))
            print(f"exported {_accounts(count)} to {path}")
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    return 0


def export_usage(path: Path, env_file: Path | None) -> int:
    """``gptbot export --usage FILE.csv``; the exit status."""
    from entrypoints.settings import ConfigError, load_environment, settings_from

    try:
        settings = settings_from(load_environment(env_file))
    except ConfigError as exc:
        print(f"gptbot: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        days = asyncio.run(_usage(settings))
        with path.open("w", newline="", encoding="utf-8") as out:
            rows = csv.writer(out)
            rows.writerow(["day", "tokens", "stars"])
            rows.writerows([day.day.isoformat(), day.tokens, day.stars] for day in days)
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gptbot: {path}: cannot write ({exc.strerror or exc})", file=sys.stderr)
        return 2
    print(f"exported {len(days)} days of usage to {path}")
    return 0


async def _usage(settings: Settings) -> list[DayUsage]:
    from core.usage import by_day
    from entrypoints.bootstrap import open_stores

    accounts, threads = await open_stores(settings)
    try:
        return await by_day(accounts, dt.date.today())
    finally:
        await accounts.close()
        await threads.close()


def _accounts(count: int) -> str:
    return f"{count} account" if count == 1 else f"{count} accounts"


if __name__ == "__main__":
    sys.exit(main())
