"""data.json into PostgreSQL and back (``gptbot import`` / ``gptbot export``).

Both go through the embedded store's own reading and writing (adapters/storage/json_accounts),
so the format has one definition. Keys the bot does not interpret, in an entry, in "global" or
at the top level, are stored as json and written back where they were, in their order; accounts
keep the order of the file. An export of an import is the file as the embedded store itself
would rewrite it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Json

from adapters.storage import purchases as purchase_format
from adapters.storage.json import format as fmt
from adapters.storage.json.accounts import JsonAccounts, write_data_files
from adapters.storage.postgres.accounts import (
    COLUMNS,
    PURCHASE_COLUMNS,
    account_row,
    purchase_row,
    row_to_account,
)
from adapters.storage.postgres.connect import connect, failed
from adapters.storage.postgres.migrate import migrate
from core.errors import StorageError
from core.values import Purchase, Totals

log = logging.getLogger(__name__)

_COPY = f"COPY accounts ({COLUMNS}, extra) FROM STDIN"
_INSERT_PURCHASE = f"INSERT INTO purchases ({PURCHASE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"


async def import_data_json(url: str, path: Path) -> int:
    """Copy the accounts of ``path`` (and its journal) into the empty database at ``url``;
    the number of accounts. Raises StorageError (CorruptData for a damaged file) and changes
    nothing when it cannot be done whole."""
    if not await asyncio.to_thread(path.exists):
        raise StorageError(f"{path}: no such file to import")
    # Opening it as the bot does replays its journal and locks it: a bot still running on
    # this file is refused rather than copied half-way through its changes.
    store = await asyncio.to_thread(JsonAccounts.open, path)
    try:
        contents = store.contents()
        connection = await connect(url)
        try:
            await migrate(connection)
            async with connection.transaction():
                await _refuse_unless_empty(connection)
                await _copy_in(connection, contents)
        except psycopg.Error as exc:
            raise failed(f"import {path}", exc) from exc
        finally:
            await connection.close()
    finally:
        await store.close()
    log.info("imported %d accounts from %s", len(contents.accounts), path)
    return len(contents.accounts)


async def _refuse_unless_empty(connection: psycopg.AsyncConnection[Any]) -> None:
    cursor = await connection.execute("SELECT count(*) FROM accounts")
    row = await cursor.fetchone()
    if row and row[0]:
        raise StorageError(
            f"the database already has {row[0]} accounts; import only into an empty one "
            "(export them first if they matter)"
        )


async def _copy_in(connection: psycopg.AsyncConnection[Any], contents: fmt.Contents) -> None:
    cursor = connection.cursor()
    async with cursor.copy(_COPY) as copy:
        for user_id, account in contents.accounts.items():
            extra = contents.extras.get(user_id)
            await copy.write_row(
                (str(user_id), *account_row(account), None if not extra else Json(extra))
            )
    await connection.execute(
        "UPDATE totals SET requests = CASE shard WHEN 0 THEN %s ELSE 0 END,"
        " tokens = CASE shard WHEN 0 THEN %s ELSE 0 END",
        (contents.totals.requests, contents.totals.tokens),
    )
    # Purchases have a table of their own, where a charge id is a key (credited once).
    global_extra = dict(contents.global_extra)
    purchases = purchase_format.all_from_json(global_extra.pop(purchase_format.KEY, None))
    for purchase in purchases.values():
        await connection.execute(_INSERT_PURCHASE, purchase_row(purchase))
    days = purchase_format.days_from_json(global_extra.pop(purchase_format.USAGE_KEY, None))
    for day, tokens in days.items():
        await connection.execute(
            "INSERT INTO usage_days (day, shard, tokens) VALUES (%s, 0, %s)", (day, tokens)
        )
    await connection.execute(
        "UPDATE document_extra SET global_extra = %s, top_extra = %s",
        (
            Json(global_extra) if global_extra else None,
            Json(contents.top_extra) if contents.top_extra else None,
        ),
    )


async def export_data_json(url: str, path: Path) -> int:
    """Write every account of the database at ``url`` to ``path`` in the data.json format,
    atomically; the number of accounts. Refuses a path whose journal holds changes (a bot
    may be running on it, and its journal would be replayed over the export)."""
    journal = path.with_name(path.name + ".journal")
    if await asyncio.to_thread(lambda: journal.exists() and journal.stat().st_size > 0):
        raise StorageError(
            f"{path}: its journal {journal} holds changes of a bot using this file; stop that "
            "bot, or export to another path"
        )
    connection = await connect(url)
    try:
        await migrate(connection)
        async with connection.transaction():
            # One snapshot of accounts and totals, as of one moment.
            await connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            contents = await _read_all(connection)
    except psycopg.Error as exc:
        raise failed("export the accounts", exc) from exc
    finally:
        await connection.close()
    try:
        await asyncio.to_thread(write_data_files, path, contents)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    log.info("exported %d accounts to %s", len(contents.accounts), path)
    return len(contents.accounts)


async def _read_all(connection: psycopg.AsyncConnection[Any]) -> fmt.Contents:
    accounts: dict[Any, Any] = {}
    extras: dict[Any, dict[str, Any]] = {}
    cursor = connection.cursor(name="export")  # server-side: rows arrive in batches
    await cursor.execute(f"SELECT {COLUMNS}, extra FROM accounts ORDER BY seq")
    async for row in cursor:
        account = row_to_account(row[:-1])
        accounts[row[0]] = account
        if row[-1]:
            extras[row[0]] = row[-1]
    totals = await connection.execute(
        "SELECT (SELECT sum(requests) FROM totals), (SELECT sum(tokens) FROM totals),"
        " global_extra, top_extra FROM document_extra"
    )
    requests, tokens, global_extra, top_extra = await totals.fetchone() or (0, 0, None, None)
    summed = Totals(requests=int(requests or 0), tokens=int(tokens or 0))
    global_extra = dict(global_extra or {})
    bought = await connection.execute(
        f"SELECT {PURCHASE_COLUMNS} FROM purchases ORDER BY at, charge_id"
    )
    purchases = {row[0]: purchase_format.to_json(Purchase(*row)) for row in await bought.fetchall()}
    if purchases:
        global_extra[purchase_format.KEY] = purchases
    tally = await connection.execute(
        "SELECT day, sum(tokens) FROM usage_days GROUP BY day HAVING sum(tokens) <> 0 ORDER BY day"
    )
    days = {day.isoformat(): int(tokens) for day, tokens in await tally.fetchall()}
    if days:
        global_extra[purchase_format.USAGE_KEY] = days
    return fmt.Contents(fmt.Accounts(accounts), extras, summed, global_extra, top_extra or {})
