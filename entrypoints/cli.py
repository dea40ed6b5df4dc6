"""The ``gptbot`` command (its help is ``USAGE``, plain text for the terminal)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from core.errors import StorageError

USAGE = """\
A ChatGPT bot for Telegram and Matrix, and a console to try it.

  gptbot console                 the console bot
  gptbot telegram                the Telegram bot
  gptbot matrix                  the Matrix bot
  gptbot import data.json        copy data.json's accounts into PostgreSQL (DATABASE_URL)
  gptbot export data.json        write PostgreSQL's accounts to a data.json
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gptbot", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", choices=["console", "telegram", "matrix", "import", "export"], help="what to do"
    )
    parser.add_argument("file", nargs="?", type=Path, help="data.json, for import and export")
    parser.add_argument("--env-file", type=Path, default=None, help="settings file (.env)")
    args = parser.parse_args(argv)
    if args.mode == "telegram":
        from entrypoints import telegram  # only the bot that runs is imported

        return telegram.main(env_file=args.env_file)
    if args.mode == "matrix":
        try:
            from entrypoints import matrix
        except ImportError as exc:  # the optional extra is not installed
            print(f"gptbot: pip install 'gptbot[matrix]' first ({exc})", file=sys.stderr)
            return 2
        return matrix.main(env_file=args.env_file)
    if args.mode == "console":
        from entrypoints import console

        return console.main(env_file=args.env_file)
    if args.file is None:
        parser.error(f"{args.mode} needs the data.json file to read or write")
    return transfer(args.mode, args.file, args.env_file)


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


def _accounts(count: int) -> str:
    return f"{count} account" if count == 1 else f"{count} accounts"


if __name__ == "__main__":
    sys.exit(main())
