"""The ``gptbot`` command: ``gptbot console`` or ``gptbot telegram``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gptbot", description=__doc__)
    parser.add_argument("mode", choices=["console", "telegram"], help="which bot to run")
    parser.add_argument("--env-file", type=Path, default=None, help="settings file (.env)")
    args = parser.parse_args(argv)
    if args.mode == "telegram":
        from entrypoints import telegram  # only the bot that runs is imported

        return telegram.main(env_file=args.env_file)
    from entrypoints import console

    return console.main(env_file=args.env_file)


if __name__ == "__main__":
    sys.exit(main())
