"""The console bot: the same core as the Telegram bot, in a terminal, on the offline model.

    python -m entrypoints.console        (or: gptbot console)

Reads lines from standard input (a terminal or a pipe), prints every message with its id, and
exits at the end of the input or after the admin's /stop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from adapters.clock import SystemClock
from adapters.console import ConsoleSession, ConsoleSink, Note, Quit, Send, Wait, numbering
from adapters.offline_model import OfflineModel
from adapters.storage.json_accounts import JsonAccountStore
from adapters.storage.json_threads import JsonThreadStore
from core.errors import StorageError
from core.ports import ChatModel
from core.service import BotService
from core.tokens import CharTokenCounter
from entrypoints.settings import ConfigError, Settings, load_environment, settings_from

BOT_USERNAME = "gptbot"
CONSOLE_ADMIN_ID = 1  # the admin's id when ADMIN_CHAT_ID is not set

log = logging.getLogger(__name__)


def build_model(settings: Settings) -> tuple[ChatModel, str]:
    """The chat model for these settings, and a line saying which it is."""
    counter = CharTokenCounter()
    return (
        OfflineModel(counter, delay=settings.offline_delay),
        "offline model (no network, describes what it receives)",
    )


async def run_console(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    """Run the console bot until the input ends or the admin stops it; the exit status."""
    try:
        accounts = JsonAccountStore.open(settings.data_file)
        threads = JsonThreadStore.open(settings.threads_file, settings.thread_retention)
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    admin_id = settings.admin_chat_id if settings.admin_chat_id is not None else CONSOLE_ADMIN_ID
    ids = numbering(_first_free_id(threads))
    sink = ConsoleSink(stdout, ids)
    model, model_name = build_model(settings)
    service = BotService(
        config=settings.bot_config(admin_id, BOT_USERNAME),
        model=model,
        accounts=accounts,
        threads=threads,
        sink=sink,
        counter=CharTokenCounter(),
        clock=SystemClock(),
    )
    session = ConsoleSession(admin_id=admin_id, bot_username=BOT_USERNAME, ids=ids)
    sink.write(
        f"gptbot console: {model_name}; data in {settings.data_file}.\n"
        f"{session.describe()} Type :help for console commands, /help for the bot's.\n"
    )
    interactive = stdin.isatty()
    pending: set[asyncio.Task[None]] = set()
    while not service.stopping:
        if interactive:
            sink.write("> ")
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        action = session.parse(line)
        if isinstance(action, Send):
            sink.echo(action.incoming)
            task = asyncio.create_task(service.handle(action.incoming))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if action.wait:
                await task
        elif isinstance(action, Note):
            sink.write(action.text + "\n")
        elif isinstance(action, Wait):
            await asyncio.gather(*pending)
        elif isinstance(action, Quit):
            break
    await asyncio.gather(*pending)
    await service.drain()
    try:
        await accounts.close()
        await threads.close()
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 1
    return 0


def _first_free_id(threads: JsonThreadStore) -> int:
    """Continue numbering after the messages a previous run remembered."""
    ids = (message_id for _, message_id in threads.ids())
    return 1 + max(ids, default=0)


def main(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> int:
    env = environ if environ is not None else load_environment(env_file)
    try:
        settings = settings_from(env)
    except ConfigError as exc:
        print(f"gptbot: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run_console(settings, sys.stdin, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
