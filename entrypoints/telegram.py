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
from collections.abc import Mapping, Sequence
from pathlib import Path

from telethon import TelegramClient

from adapters.telegram.bot import TelegramBot
from adapters.telegram.sink import TelegramSink
from adapters.telegram.stream import Mode, TelegramStream
from core.errors import DeliveryFailed, StorageError
from core.texts import text
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
    notices = _NoticesAside(sink, login.admin_id)
    try:
        bot = build_bot(
            settings, notices, admin_id=login.admin_id, bot_username=me.username, lookup=sink
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        await client.disconnect()
        return 2
    language = settings.default_language
    telegram = TelegramBot(client, bot.service.handle, sink=sink, language=language)
    await telegram.start()
    log.warning("serving Telegram as @%s (%s) with the %s", me.username, me.id, bot.model_name)
    try:
        await sink.send(
            login.admin_id, text(language, "admin_started", bot=me.username, model=bot.model_name)
        )
    except DeliveryFailed as exc:  # the admin blocked the bot, say: it serves everyone else
        log.warning("could not tell the admin the bot started: %s", exc)
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
        await notices.close()
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


class _NoticesAside:
    """The sink as the core sees it, with what goes to the admin's chat sent in the background.

    The old core awaits its admin notices ("new user: ...") inside the user's request, and the
    sink waits out an admin chat's FloodWaits (up to ``writer.MAX_WAIT``) or raises
    ``DeliveryFailed`` for an admin who never opened a chat with the bot: either would hold or
    fail a new user's first answer. Core v2 queues notices itself; then this class goes.
    """

    def __init__(self, sink: TelegramSink, admin_id: int) -> None:
        self._sink = sink
        self._admin_id = admin_id
        self._aside: set[asyncio.Task[None]] = set()

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> Sequence[int]:
        if chat_id != self._admin_id:
            return await self._sink.send(chat_id, text, reply_to)
        task = asyncio.create_task(self._to_admin(text, reply_to))
        self._aside.add(task)
        task.add_done_callback(self._aside.discard)
        return []

    async def _to_admin(self, text: str, reply_to: int | None) -> None:
        try:
            await self._sink.send(self._admin_id, text, reply_to)
        except DeliveryFailed as exc:
            log.warning("a message to the admin was not delivered: %s", exc)

    def stream(self, chat_id: int, reply_to: int | None) -> TelegramStream:
        return self._sink.stream(chat_id, reply_to)

    async def typing(self, chat_id: int) -> None:
        await self._sink.typing(chat_id)

    async def close(self) -> None:
        if self._aside:
            await asyncio.gather(*self._aside, return_exceptions=True)


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
    return asyncio.run(run_telegram(settings))


if __name__ == "__main__":
    sys.exit(main())
