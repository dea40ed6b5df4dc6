"""The console bot: the same core as the Telegram bot, in a terminal.

It answers with the offline model, or with the OpenAI-compatible model when OPENAI_API_KEY is
set, and says which when it starts.

    python -m entrypoints.console        (or: gptbot console)

Reads lines from standard input (a terminal or a pipe), prints every message with its id, and
exits at the end of the input or after the admin's /stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from adapters.messengers.console.session import (
    ConsoleOperator,
    ConsoleSession,
    ConsoleSink,
    Note,
    Quit,
    Send,
    Wait,
    numbering,
)
from adapters.storage.sqlite.threads import SqliteThreads
from core.errors import StorageError
from core.replies import reply_to
from core.values import Incoming
from entrypoints.bootstrap import build_bot
from entrypoints.settings import ConfigError, Settings, load_environment, settings_from

BOT_USERNAME = "gptbot"
CONSOLE_ADMIN_ID = "1"  # the admin's id when ADMIN_CHAT_ID is not set

log = logging.getLogger(__name__)


async def run_console(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    """Run the console bot until the input ends or the admin stops it; the exit status."""
    admin = settings.admin_chat_id
    admin_id = str(admin) if admin is not None else CONSOLE_ADMIN_ID
    sink = ConsoleSink(stdout, numbering(), pictures=settings.pictures_dir())
    try:
        bot = await build_bot(
            settings,
            admin_id=admin_id,
            sink=sink,
            operator=ConsoleOperator(sink, admin_id),
            media=sink,
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    if isinstance(bot.threads, SqliteThreads):
        # Continue numbering after the messages a previous run remembered.
        sink.ids = numbering(bot.threads.last_message_id() + 1)
    else:  # a shared database: ids from the clock never meet a previous run's
        sink.ids = numbering(time.time_ns() // 1_000_000)
    session = ConsoleSession(
        admin_id=admin_id, bot_username=BOT_USERNAME, ids=sink.ids, bot_messages=sink.sent
    )
    service = bot.service
    sink.write(
        f"gptbot console: {bot.model_phrase}; data in {settings.data_file}.\n"
        f"{session.describe()} Type :help for console commands, /help for the bot's.\n"
    )
    read = _typed_line if stdin.isatty() and stdin is sys.stdin else stdin.readline
    pending: set[asyncio.Future[None]] = set()
    while not service.stopping:
        line = await asyncio.to_thread(read)
        if not line:
            break
        action = session.parse(line)
        if isinstance(action, Send):
            sink.echo(action.incoming)
            if not action.addressed:
                continue  # a group message that is not for the bot
            done = service.submit(action.incoming)
            pending.add(done)
            done.add_done_callback(pending.discard)
            done.add_done_callback(_abandon(sink, action.incoming))
            if action.wait:
                await done
        elif isinstance(action, Note):
            sink.write(action.text + "\n")
        elif isinstance(action, Wait):
            await asyncio.gather(*pending)
        elif isinstance(action, Quit):
            break
    await asyncio.gather(*pending)
    try:
        await bot.close()
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 1
    return 0


def _abandon(sink: ConsoleSink, incoming: Incoming) -> Callable[[object], None]:
    """Once ``incoming`` is handled, an answer to it still printing live is ended."""
    return lambda _: sink.abandon(incoming.chat_id, reply_to(incoming))


def _typed_line() -> str:
    """A line typed at the terminal, with line editing and history; "" at the end of input."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - gives input() editing and history where it exists
    try:
        return input("> ") + "\n"
    except EOFError:
        return ""


def main(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> int:
    env = environ if environ is not None else load_environment(env_file)
    try:
        settings = settings_from(env)
    except ConfigError as exc:
        print(f"gptbot: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    for note in settings.notes:
        log.warning("%s", note)
    return asyncio.run(run_console(settings, sys.stdin, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
