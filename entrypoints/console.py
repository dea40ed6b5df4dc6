"""The console bot: the same core as the Telegram bot, in a terminal.

It answers with the offline model, or with the OpenAI-compatible model when OPENAI_API_KEY is
set, and says which when it starts.

    python -m entrypoints.console        (or: gptbot console)

Reads lines from standard input (a terminal or a pipe), prints every message with its number,
and exits at the end of the input (Ctrl-D), on Ctrl-C, or after the admin's /stop; the answers
in flight are finished first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from adapters.messengers.console.numbers import numbering, short_numbering
from adapters.messengers.console.payments import ConsolePayments
from adapters.messengers.console.session import (
    ConsoleOperator,
    ConsoleSession,
    ConsoleSink,
    Note,
    Pay,
    Quit,
    Send,
    Wait,
)
from adapters.storage.sqlite.threads import SqliteThreads
from core.errors import StorageError
from core.replies import reply_to
from core.service import BotService
from core.values import Incoming, Payment
from entrypoints import startup
from entrypoints.bootstrap import build_bot, describe_store
from entrypoints.settings import (
    ConfigError,
    Settings,
    load_environment,
    settings_from,
    start_logging,
)

BOT_USERNAME = "gptbot"
CONSOLE_ADMIN_ID = "1"  # the admin's id when ADMIN_CHAT_ID is not set

log = logging.getLogger(__name__)


async def run_console(settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    """Run the console bot until the input ends or the admin stops it; the exit status."""
    admin = settings.admin_chat_id
    admin_id = str(admin) if admin is not None else CONSOLE_ADMIN_ID
    sink = ConsoleSink(
        stdout, numbering(), pictures=settings.pictures_dir(), voices=settings.voices_dir()
    )
    try:
        bot = await build_bot(
            settings,
            admin_id=admin_id,
            sink=sink,
            operator=ConsoleOperator(sink, admin_id),
            media=sink,
            payments=ConsolePayments(sink),
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    if isinstance(bot.threads, SqliteThreads):
        # Continue numbering after the messages a previous run remembered.
        sink.ids = numbering(bot.threads.last_message_id() + 1)
    else:  # a shared database: ids from the clock never meet a previous run's, shown short
        sink.ids = short_numbering(time.time_ns() // 1_000_000)
    service = bot.service
    session = ConsoleSession(
        admin_id=admin_id,
        bot_username=BOT_USERNAME,
        ids=sink.ids,
        bot_messages=sink.sent,
        commands=frozenset(service.commands.table),
    )
    sink.write(
        f"gptbot console: {bot.model_phrase}; data in {describe_store(settings)}.\n"
        f"{session.describe()} Type :help for console commands, /help for the bot's.\n"
    )
    read = _typed_line if stdin.isatty() and stdin is sys.stdin else stdin.readline
    interrupted = asyncio.Event()

    def interrupt() -> None:
        # Ctrl-C ends the console as Ctrl-D does: the answers in flight are finished (and
        # charged as usual), nothing new is read.
        if not interrupted.is_set():
            sink.write("\n(Ctrl-C: stopping once the answers in flight are finished.)\n")
        interrupted.set()

    pending: set[asyncio.Future[None]] = set()
    with _terminal_kept(stdin), _on_interrupt(interrupt):
        while not service.stopping and not interrupted.is_set():
            line = await _next_line(read, interrupted, service.wait_for_stop)
            if not line:
                break
            action = session.parse(line)
            if isinstance(action, Send):
                sink.echo(action.incoming)
                if not action.addressed:
                    continue  # a message that is not for the bot
                done = service.submit(action.incoming)
                pending.add(done)
                done.add_done_callback(pending.discard)
                done.add_done_callback(_abandon(sink, action.incoming))
                if action.wait:
                    await done
            elif isinstance(action, Pay):
                await _pay(service, sink, action)
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


async def _pay(service: BotService, sink: ConsoleSink, pay: Pay) -> None:
    """Report a payment as Telegram would once ``pay.sender`` paid an invoice of /buy."""
    pack = service.shop.pack(pay.stars)
    if pack is None:
        offered = ", ".join(str(p.stars) for p in service.shop.packs) or "none (set STAR_PACKS)"
        sink.write(f"No pack costs {pay.stars} Stars; the packs: {offered}.\n")
        return
    charge = pay.charge_id or f"console-{uuid.uuid4().hex[:12]}"
    sink.write(f"({pay.sender.id} paid {pack.stars} ⭐, charge {charge})\n")
    payment = Payment(charge, pay.chat_id, pay.sender, pack.payload, pack.stars)
    await service.pay(payment)


def _abandon(sink: ConsoleSink, incoming: Incoming) -> Callable[[object], None]:
    """Once ``incoming`` is handled, an answer to it still printing live is ended."""
    return lambda _: sink.abandon(incoming.chat_id, reply_to(incoming))


async def _next_line(
    read: Callable[[], str],
    interrupted: asyncio.Event,
    stopped: Callable[[], Awaitable[None]],
) -> str:
    """The next input line; "" at the end of the input, on Ctrl-C, or when the bot stops.

    The line is read in a daemon thread of its own: a read that is never answered (Ctrl-C at
    the prompt) must not keep the process alive, as a thread of the default executor would."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def deliver(result: str | BaseException) -> None:
        if line.done():
            return
        if isinstance(result, BaseException):
            line.set_exception(result)
        else:
            line.set_result(result)

    def reading() -> None:
        result: str | BaseException
        try:
            result = read()
        except Exception as exc:  # handed to the loop, which raises it
            result = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(deliver, result)

    threading.Thread(target=reading, name="console input", daemon=True).start()
    others = [asyncio.ensure_future(interrupted.wait()), asyncio.ensure_future(stopped())]
    waiting: list[asyncio.Future[Any]] = [line, *others]
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for other in others:
            other.cancel()
    return line.result() if line.done() else ""


@contextlib.contextmanager
def _on_interrupt(handler: Callable[[], None]) -> Iterator[None]:
    """Call ``handler`` on Ctrl-C (SIGINT) instead of raising KeyboardInterrupt, where the
    platform lets the loop handle signals."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


@contextlib.contextmanager
def _terminal_kept(stdin: TextIO) -> Iterator[None]:
    """Give the terminal back as it was: a line being read when Ctrl-C came is left
    unfinished, and line editing would otherwise leave the terminal without echo."""
    try:
        import termios
    except ImportError:  # not a POSIX system
        yield
        return
    try:
        fd = stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):  # not a terminal
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _typed_line() -> str:
    """A line typed at the terminal, with line editing and history; "" at the end of input."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401 - gives input() editing and history where it exists
    try:
        return input("> ") + "\n"
    except EOFError:
        return ""


def main(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> int:
    with startup.collector_paused():  # until the bot is built (``entrypoints.startup``)
        env = environ if environ is not None else load_environment(env_file)
        try:
            settings = settings_from(env)
        except ConfigError as exc:
            print(f"gptbot: configuration error: {exc}", file=sys.stderr)
            return 2
        start_logging(settings, "%(levelname)s %(name)s: %(message)s")
        try:
            return asyncio.run(run_console(settings, sys.stdin, sys.stdout))
        except KeyboardInterrupt:  # Ctrl-C before the console could take it over: nothing ran yet
            print(file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
