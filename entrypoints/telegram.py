"""The Telegram bot: log in with the bot token, serve chats until /stop or a signal.

python -m entrypoints.telegram        (or: gptbot telegram)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import StorageError
from entrypoints import startup
from entrypoints.bootstrap import build_bot, stop_on_signals
from entrypoints.settings import (
    ConfigError,
    Settings,
    load_environment,
    settings_from,
    start_logging,
)

with startup.unused_kept_out():  # Telethon without aiohttp (``entrypoints.startup``)
    from telethon import TelegramClient

    from adapters.messengers.telegram.bot import TelegramBot
    from adapters.messengers.telegram.formats import MessageFormat
    from adapters.messengers.telegram.menu import command_menu
    from adapters.messengers.telegram.operator import TelegramOperator
    from adapters.messengers.telegram.payments import PaymentUpdates, TelegramPayments
    from adapters.messengers.telegram.replies import TelegramReplies
    from adapters.messengers.telegram.sink import TelegramSink
    from adapters.messengers.telegram.stream import Mode

if TYPE_CHECKING:
    from adapters.storage.json.preload import Preload
    from adapters.storage.postgres.receiver import ReceiverLock

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    client: TelegramClient,
    *,
    handle_signals: bool = True,
    lost: Callable[[], Awaitable[None]] | None = None,
    preload: Preload | None = None,
) -> int:
    """Run the bot on a logged-in client until /stop or SIGINT/SIGTERM; the exit status.

    On the way out: no new messages are taken, the answers in flight are finished, everything
    is saved, the client disconnects. ``lost``, when given, returns when this process stops
    being the one that receives the bot's messages (a standby takes over): the bot stops too.
    ``preload``: data.json being parsed meanwhile (``startup.preloaded``).
    """
    login = settings.telegram()
    me = await client.get_me()
    sink = TelegramSink(
        client,
        mode=Mode(settings.stream_mode),
        message_format=MessageFormat(settings.message_format),
        rich_size=settings.rich_message_limit,
        show_reasoning=settings.show_reasoning,
    )
    replies = TelegramReplies(sink)
    admin = str(login.admin_id)
    try:
        bot = await build_bot(
            settings,
            admin_id=admin,
            sink=replies,
            operator=TelegramOperator(sink, login.admin_id),
            lookup=replies,
            media=replies,
            payments=TelegramPayments(client),
            preload=preload,
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        await client.disconnect()
        return 2
    language = settings.default_language
    commands = bot.service.commands
    menu = command_menu(commands.menu, language)
    known = frozenset(commands.table)  # every command, the admin's too, addresses the bot
    telegram = TelegramBot(
        client, bot.service.submit, sink=sink, language=language, commands=menu, known=known
    )
    await telegram.start()
    payments = PaymentUpdates(
        client, bot.service.precheckout, bot.service.pay, settings.default_language
    )
    payments.listen()
    log.warning("serving Telegram as @%s (%s) with the %s", me.username, me.id, bot.model_phrase)
    bot.service.notices.post("admin_started", bot=f"@{me.username}", model=bot.model_phrase)
    watch = asyncio.create_task(_watch(lost, bot.service.request_stop)) if lost else None
    with stop_on_signals(bot.service.request_stop, enabled=handle_signals):
        try:
            await bot.service.wait_for_stop()
            log.warning("stopping: finishing the answers in flight")
            await telegram.stop()  # later messages get "shutting down" until the client goes
            # Payments are taken until the answers in flight are done: a payer whose
            # pre-checkout was accepted before the stop has paid (later ones are refused).
            await bot.service.drain()
            payments.stop()
            await bot.close()
            await telegram.close()
            sink.close()
        except StorageError as exc:
            print(f"gptbot: {exc}", file=sys.stderr)
            return 1
        finally:
            if watch is not None:
                watch.cancel()
            await client.disconnect()
    # Losing the receiver's lock is no clean stop: exit 1, and a supervisor restarts this
    # process as a standby.
    return 1 if watch is not None and watch.done() and not watch.cancelled() else 0


async def _watch(lost: Callable[[], Awaitable[None]], stop: Callable[[], None]) -> None:
    await lost()
    log.error("this process is no longer the bot's receiver (its database connection failed)")
    stop()


async def run_telegram(settings: Settings, preload: Preload | None = None) -> int:
    login = settings.telegram()
    session = login.session
    if session.suffix != ".session":  # Telethon would add it; name the file it really writes
        session = session.with_name(session.name + ".session")
    # Telethon itself sleeps through flood waits below flood_sleep_threshold, stalling the
    # answer being streamed; at 0 every wait reaches the sink, which keeps it for that chat.
    client = TelegramClient(
        str(session), login.api_id, login.api_hash.reveal(), flood_sleep_threshold=0
    )
    with contextlib.suppress(OSError):  # the session holds the login: private before it is
        os.chmod(session, 0o600)  # written, not after
    try:
        lock = await _receiver(settings)
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    try:
        return await _log_in_and_serve(settings, client, lock, preload)
    finally:
        if lock is not None:
            await lock.release()


async def _receiver(settings: Settings) -> ReceiverLock | None:
    """With PostgreSQL, wait until this process may receive the bot's messages: Telegram gives
    them to one connection, so one process serves and the others stand by."""
    if settings.database_url is None or settings.receiver_database_url is None:
        return None
    from adapters.storage.postgres.receiver import ReceiverLock

    bot_id = settings.telegram().token.reveal().split(":", 1)[0]  # the bot's id: not secret
    url = settings.receiver_database_url.reveal()
    lock = ReceiverLock(url, name=f"telegram-bot-{bot_id}")
    if not await lock.try_acquire():
        log.warning("another process serves this bot: standing by until it stops")
        await lock.acquire()
    log.warning("this process receives the bot's messages")
    return lock


async def _log_in_and_serve(
    settings: Settings,
    client: TelegramClient,
    lock: ReceiverLock | None,
    preload: Preload | None = None,
) -> int:
    login = settings.telegram()
    try:
        await client.start(bot_token=login.token.reveal())
    except Exception as exc:  # Telethon fails in many ways here; each means "not logged in"
        reason = str(exc) or type(exc).__name__
        print(
            f"gptbot: cannot log in to Telegram ({reason}); check the network, "
            "TELEGRAM_API_KEY, TELEGRAM_API_ID and TELEGRAM_API_HASH",
            file=sys.stderr,
        )
        await client.disconnect()
        return 1
    lost = lock.lost if lock is not None else None
    return await serve(settings, client, lost=lost, preload=preload)


def main(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = None,
    preload: Preload | None = None,
) -> int:
    with startup.collector_paused():  # until the bot is built (``entrypoints.startup``)
        env = environ if environ is not None else load_environment(env_file)
        try:
            settings = settings_from(env)
            settings.telegram()
        except ConfigError as exc:
            print(f"gptbot: configuration error: {exc}", file=sys.stderr)
            return 2
        start_logging(settings)
        return asyncio.run(run_telegram(settings, preload))


if __name__ == "__main__":
    sys.exit(main())
