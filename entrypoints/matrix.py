"""The Matrix bot: log in to a homeserver, serve its rooms until /stop or a signal.

python -m entrypoints.matrix        (or: gptbot matrix)

Settings (``.env``): ``MATRIX_HOMESERVER`` (https://matrix.example.org), ``MATRIX_USER_ID``
(@gptbot:example.org), ``MATRIX_ADMIN`` (the operator's user id), and either
``MATRIX_ACCESS_TOKEN`` or ``MATRIX_PASSWORD``: with a password the bot logs in once and keeps
the token in ``MATRIX_TOKEN_FILE`` (``matrix.token``, mode 0600), as Telegram's session file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import nio

from adapters.messengers.matrix.bot import MatrixBot
from adapters.messengers.matrix.media import MatrixMedia
from adapters.messengers.matrix.operator import MatrixOperator
from adapters.messengers.matrix.sink import MatrixSink, client_config
from core.errors import StorageError
from entrypoints import startup
from entrypoints.bootstrap import build_bot, stop_on_signals
from entrypoints.setting_types import Secret
from entrypoints.settings import (
    ConfigError,
    Settings,
    load_environment,
    settings_from,
    start_logging,
)

if TYPE_CHECKING:
    from adapters.storage.json.preload import Preload

log = logging.getLogger(__name__)


@attrs.frozen
class MatrixLogin:
    homeserver: str
    user_id: str
    admin: str
    access_token: Secret | None
    password: Secret | None
    token_file: Path
    edit_interval: float


def matrix_login(env: Mapping[str, str], base: Path | None = None) -> MatrixLogin:
    """What the Matrix bot needs to log in; ConfigError naming whatever is missing."""
    base = base or Path.cwd()

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    missing = [n for n in ("MATRIX_HOMESERVER", "MATRIX_USER_ID", "MATRIX_ADMIN") if not get(n)]
    token, password = get("MATRIX_ACCESS_TOKEN"), get("MATRIX_PASSWORD")
    token_file = base / (get("MATRIX_TOKEN_FILE") or "matrix.token")
    if token is None and password is None and not token_file.exists():
        missing.append("MATRIX_ACCESS_TOKEN (or MATRIX_PASSWORD)")
    if missing:
        raise ConfigError("the Matrix bot needs " + ", ".join(missing) + " in .env")
    for name in ("MATRIX_USER_ID", "MATRIX_ADMIN"):
        value = str(get(name))
        if not value.startswith("@") or ":" not in value:
            raise ConfigError(f"{name} is a Matrix user id like @name:example.org, not {value!r}")
    raw_interval = get("MATRIX_EDIT_INTERVAL") or "2"
    try:
        interval = float(raw_interval)
    except ValueError:
        raise ConfigError(f"MATRIX_EDIT_INTERVAL is seconds, not {raw_interval!r}") from None
    if not 0 <= interval <= 60:
        raise ConfigError("MATRIX_EDIT_INTERVAL is between 0 and 60 seconds")
    return MatrixLogin(
        homeserver=str(get("MATRIX_HOMESERVER")).rstrip("/"),
        user_id=str(get("MATRIX_USER_ID")),
        admin=str(get("MATRIX_ADMIN")),
        access_token=None if token is None else Secret(token),
        password=None if password is None else Secret(password),
        token_file=token_file,
        edit_interval=interval,
    )


async def log_in(login: MatrixLogin) -> nio.AsyncClient:
    """A client logged in with the token, the kept token, or the password (keeping its
    token); ConnectionError when the homeserver refuses."""
    client = nio.AsyncClient(login.homeserver, login.user_id, config=client_config())
    if login.access_token is not None:
        client.restore_login(login.user_id, "", login.access_token.reveal())
    elif login.token_file.exists():
        kept = json.loads(login.token_file.read_text())
        client.restore_login(login.user_id, kept["device_id"], kept["access_token"])
    else:
        assert login.password is not None
        answer = await client.login(login.password.reveal(), device_name="gptbot")
        if not isinstance(answer, nio.LoginResponse):
            await client.close()
            raise ConnectionError(f"Matrix: the homeserver refused the login: {answer.message}")
        descriptor = os.open(login.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump({"device_id": answer.device_id, "access_token": answer.access_token}, out)
    who = await client.whoami()
    if not isinstance(who, nio.WhoamiResponse):
        await client.close()
        raise ConnectionError(f"Matrix: the access token was refused: {who.message}")
    return client


async def serve(
    settings: Settings,
    login: MatrixLogin,
    *,
    handle_signals: bool = True,
    serving: Callable[[], None] | None = None,
    preload: Preload | None = None,
) -> int:
    """Run the bot until /stop or SIGINT/SIGTERM; the exit status. ``serving`` is called once
    the bot has marked where it begins: a message sent after that is answered. ``preload``:
    data.json being parsed meanwhile (``startup.preloaded``)."""
    try:
        client = await log_in(login)
    except (ConnectionError, OSError, nio.LocalProtocolError) as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        return 2
    sink = MatrixSink(client, edit_interval=login.edit_interval)
    media = MatrixMedia(login.homeserver, lambda: client.access_token)
    try:
        bot = await build_bot(
            settings,
            admin_id=login.admin,
            sink=sink,
            operator=MatrixOperator(sink, login.admin),
            lookup=sink,
            media=media,
            preload=preload,
        )
    except StorageError as exc:
        print(f"gptbot: {exc}", file=sys.stderr)
        await client.close()
        return 2
    commands = frozenset(bot.service.commands.table)
    matrix = MatrixBot(
        client,
        sink,
        bot.service.submit,
        commands,
        invites=bot.service.gate.allows,
        language=settings.default_language,
    )
    receiving: asyncio.Task[None] | None = None
    with stop_on_signals(bot.service.request_stop, enabled=handle_signals):
        try:
            await matrix.start()
            log.warning("serving Matrix as %s with the %s", login.user_id, bot.model_phrase)
            print(f"gptbot matrix: serving as {login.user_id}", flush=True)
            if serving is not None:
                serving()
            receiving = asyncio.create_task(matrix.run())
            stopped = asyncio.create_task(bot.service.wait_for_stop())
            await asyncio.wait({receiving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            log.warning("stopping: finishing the answers in flight")
            stopped.cancel()
            # Still syncing while the answers in flight finish: a message that comes meanwhile
            # is told the bot is shutting down (the core says so once it stops), not ignored.
            await bot.service.drain()
            matrix.stop()
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            await bot.close()
        except StorageError as exc:
            print(f"gptbot: {exc}", file=sys.stderr)
            return 1
        finally:
            if receiving is not None and not receiving.done():
                receiving.cancel()
            await media.close()
            await client.close()
    return 0


def main(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = None,
    preload: Preload | None = None,
) -> int:
    with startup.collector_paused():  # until the bot is built (``entrypoints.startup``)
        env = environ if environ is not None else load_environment(env_file)
        try:
            settings = settings_from(env)
            login = matrix_login(env)
        except ConfigError as exc:
            print(f"gptbot: configuration error: {exc}", file=sys.stderr)
            return 2
        start_logging(settings)
        return asyncio.run(serve(settings, login, preload=preload))


if __name__ == "__main__":
    sys.exit(main())
