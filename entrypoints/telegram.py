"""The Telegram bot: log in with the bot token, serve chats until /stop or a signal.

python -m entrypoints.telegram        (or: gptbot telegram)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from telethon import TelegramClient

from adapters.telegram.bot import TelegramBot
from adapters.telegram.operator import TelegramOperator
from adapters.telegram.replies import TelegramReplies
from adapters.telegram.sink import TelegramSink
from adapters.telegram.stream import Mode
from adapters.telegram.texts import command_menu, say
from core.errors import StorageError
from entrypoints.bootstrap import build_bot
from entrypoints.settings import ConfigError, Settings, load_environment, settings_from

log = logging.getLogger(__name__)


async def serve(settings: Settings, client: TelegramClient, *, handle_signals: bool = True) -> int:
    """Run the bot on a logged-in client until /stop or SIGINT/SIGTERM; the exit status.

    On the way out: no new messages are taken, the answers in flight are finished, everything
    is saved, the client disconnects.
    """
    login = settings.telegram()
    me = await client.get_me()
    sink = TelegramSink(client, mode=Mode(settings.stream_mode))
    replies = TelegramReplies(sink)
    admin = str(login.admin_id)
    try:
        bot = build_bot(
            settings,
            admin_id=admin,
            sink=replies,
            operator=TelegramOperator(sink, login.admin_id),
            lookup=replies,
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        await client.disconnect()
        return 2
    language = settings.default_language
    commands = bot.service.commands
    menu = command_menu(commands.menu)
    known = frozenset(commands.table)  # every command, the admin's too, addresses the bot
    telegram = TelegramBot(
        client, bot.service.submit, sink=sink, language=language, commands=menu, known=known
    )
    await telegram.start()
    log.warning("serving Telegram as @%s (%s) with the %s", me.username, me.id, bot.model_name)
    bot.service.notices.post_text(say(language, "started", bot=me.username, model=bot.model_name))
    loop = asyncio.get_running_loop()
    if handle_signals:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, bot.service.request_stop)
    try:
        await bot.service.wait_for_stop()
        log.warning("stopping: finishing the answers in flight")
        await telegram.stop()  # later messages get "shutting down" until the client goes
        await bot.close()
        await telegram.close()
        sink.close()
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 1
    finally:
        if handle_signals:
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(number)
        await client.disconnect()
    return 0


async def run_telegram(settings: Settings) -> int:
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
    return await serve(settings, client)


def main(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> int:
    env = environ if environ is not None else load_environment(env_file)
    try:
        settings = settings_from(env)
        settings.telegram()
    except ConfigError as exc:
        print(f"gptbot: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for note in settings.notes:
        log.warning("%s", note)
    return asyncio.run(run_telegram(settings))


if __name__ == "__main__":
    sys.exit(main())
