"""Accounts in PostgreSQL: balances, holds and totals, with the money arithmetic in SQL.

Nothing is kept in memory, so any number of processes can share one database:

- ``hold`` is one statement that locks the account's row, takes as much of
  [minimum, maximum] as ``balance - held`` allows, and records the hold, or does nothing.
  Holds that arrive while one is being made go out together in the next statement.
- A hold has a lease (``expires_at``): the holds of a process that died between hold and
  settle are given back once they expire, by the next hold that finds the balance short.
  A release that fails (the database is away) is tried again in the background, every few
  seconds, until it succeeds or the lease ends: the tokens are free again soon after the
  database returns, not 15 minutes later.
  A hold is given back exactly once, by whichever comes first: its settlement, its release or
  its expiry (each deletes the hold's row and subtracts only what it deleted).
- ``change`` reads the account ``FOR UPDATE``, applies the caller's function, writes the
  result, the totals and the hold's release, all in one transaction. Changes that arrive
  while one is being written go out together in the next transaction (group commit).

Batching is what makes one process fast: psycopg's async path costs a fraction of a
millisecond of CPU per round trip, and a message needs a hold and a settlement.
- The totals are the sum of 16 rows (see the migration). A totals function that adds the same
  to any totals (as a settlement's does) is applied as that increment to one row picked at
  random, so concurrent settlements do not queue for one row; any other function gets all
  the rows locked, the sum, and the result written back.

Locks are always taken in one order: accounts' rows in ascending id, then their holds' rows,
then totals rows in ascending order. Two transactions never wait for each other in a circle,
so none is aborted as a deadlock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import psycopg
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool

from adapters.storage import access as access_format
from adapters.storage.postgres.connect import WAIT, failed, open_pool
from core.budget import Entry, Posting
from core.errors import StorageError
from core.values import AccessList, Account, Hold, Totals

log = logging.getLogger(__name__)

# Seconds between tries to give back a hold whose release failed: doubling up to the most.
RELEASE_RETRY_FIRST = 0.5
RELEASE_RETRY_MOST = 5.0

COLUMNS = (
    "id, balance, requests, tokens, name, username, last_request, prompt, banned, model,"
    " allowance, refilled, voice, search, mode"
)
ACCESS = access_format.KEY  # the access list's key among data.json's "global" keys

# Holds of several accounts at once, at most one per account (two of one account would
# both read the same balance). The CTE's FOR UPDATE, in the order of the ids, makes a
# hold that waited for another read the balance and held tokens that other one left,
# not those of its own snapshot: without it, two holds of the same account could each
# take the same last tokens.
_RESERVE = """
WITH wanted AS (
    SELECT * FROM unnest(%(users)s::text[], %(minimums)s::bigint[], %(maximums)s::bigint[],
                         %(holds)s::text[]) AS w (user_id, minimum, maximum, hold)
), current AS (
    SELECT a.id, w.hold, w.minimum, LEAST(w.maximum, a.balance - a.held) AS amount
    FROM accounts AS a JOIN wanted AS w ON a.id = w.user_id
    ORDER BY a.id
    FOR UPDATE OF a
), taken AS (
    UPDATE accounts AS a SET held = a.held + current.amount
    FROM current
    WHERE a.id = current.id AND current.amount >= current.minimum
    RETURNING a.id, current.hold, current.amount
)
INSERT INTO holds (id, user_id, amount, expires_at)
SELECT hold, id, amount, now() + %(lease)s FROM taken
RETURNING id, amount
"""
# The account's row is locked first, then its holds' rows (the lock order).
_RELEASE = """
WITH owner AS (SELECT id FROM accounts WHERE id = %(user)s FOR UPDATE),
gone AS (
    DELETE FROM holds WHERE id = %(hold)s AND user_id = (SELECT id FROM owner) RETURNING amount
)
UPDATE accounts SET held = held - (SELECT sum(amount) FROM gone)
WHERE id = %(user)s AND EXISTS (SELECT 1 FROM gone)
"""
_EXPIRE = """
WITH owner AS (SELECT id FROM accounts WHERE id = %(user)s FOR UPDATE),
gone AS (
    DELETE FROM holds WHERE user_id = (SELECT id FROM owner) AND expires_at < now()
    RETURNING amount
)
UPDATE accounts SET held = held - (SELECT sum(amount) FROM gone)
WHERE id = %(user)s AND EXISTS (SELECT 1 FROM gone)
"""
# A batch of settlements: the accounts' rows locked in the order of their ids, so two batches
# never wait for each other in a circle; then the holds given back and the accounts written.
_LOCK_ACCOUNTS = f"SELECT {COLUMNS} FROM accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
_SETTLE = """
WITH gone AS (
    DELETE FROM holds AS h USING unnest(%s::text[], %s::text[]) AS r (id, user_id)
    WHERE h.id = r.id AND h.user_id = r.user_id
    RETURNING h.user_id, h.amount
), freed AS (
    SELECT user_id, sum(amount) AS amount FROM gone GROUP BY user_id
)
UPDATE accounts AS a
SET balance = v.balance, requests = v.requests, tokens = v.tokens, name = v.name,
    username = v.username, last_request = v.last_request, prompt = v.prompt,
    banned = v.banned, model = v.model, allowance = v.allowance, refilled = v.refilled,
    voice = v.voice, search = v.search, mode = v.mode,
    held = a.held - coalesce((SELECT amount FROM freed WHERE freed.user_id = a.id), 0)
FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[],
            %s::timestamp[], %s::text[], %s::boolean[], %s::text[], %s::bigint[], %s::text[],
            %s::boolean[], %s::boolean[], %s::text[])
    AS v (id, balance, requests, tokens, name, username, last_request, prompt, banned, model,
          allowance, refilled, voice, search, mode)
WHERE a.id = v.id
"""
_REGISTER = f"""
INSERT INTO accounts ({COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO NOTHING
RETURNING {COLUMNS}
"""


def row_to_account(row: tuple[Any, ...]) -> Account:
    user_id, balance, requests, tokens, name, username, last, prompt, is_banned, model = row[:10]
    allowance, refilled, voice, search, mode = row[10:15]
    return Account(
        user_id=user_id,
        balance=balance,
        requests=requests,
        tokens=tokens,
        name=name,
        username=username,
        last_request=last,
        prompt=prompt,
        banned=is_banned,
        model=model,
        allowance=allowance,
        refilled=refilled,
        voice=voice,
        search=search,
        mode=mode,
    )


def account_row(value: Account) -> tuple[Any, ...]:
    """The columns of COLUMNS after the id, in order."""
    return (
        value.balance,
        value.requests,
        value.tokens,
        value.name,
        value.username,
        value.last_request,
        value.prompt,
        value.banned,
        value.model,
        value.allowance,
        value.refilled,
        value.voice,
        value.search,
        value.mode,
    )


class PostgresAccountStore:
    """``core.ports.AccountStore`` on a PostgreSQL database."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        lease: dt.timedelta = dt.timedelta(minutes=15),
        *,
        owns_pool: bool = False,
    ) -> None:
        self._pool = pool
        self.lease = lease
        self._owns_pool = owns_pool
        self._lock = asyncio.Lock()  # one batch of changes written at a time
        self._queue: list[_Pending] = []
        self._holding = asyncio.Lock()  # one batch of holds made at a time
        self._wanted: list[_Wanted] = []
        self._releasing: set[asyncio.Task[None]] = set()  # releases tried again

    @classmethod
    async def open(
        cls,
        url: str,
        lease: dt.timedelta = dt.timedelta(minutes=15),
        pool_size: int = 10,
        wait: float = WAIT,
    ) -> PostgresAccountStore:
        """Connect to ``url``, bring the schema up to date; StorageError when that fails.
        ``wait``: seconds a request waits for the database while it is away.

        ``lease``: how long a hold lives unless settled or released. It must be longer than
        the longest request (the model's timeout and the whole stream); a hold that expires
        early lets the user start more requests than the balance covers, never charges twice.
        """
        return cls(await open_pool(url, max_size=pool_size, wait=wait), lease, owns_pool=True)

    async def _one(self, what: str, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql, params)
                return await cursor.fetchone()
        except psycopg.Error as exc:
            raise failed(what, exc) from exc

    async def get(self, user_id: str) -> Account | None:
        row = await self._one(
            "read an account", f"SELECT {COLUMNS} FROM accounts WHERE id = %s", (user_id,)
        )
        return None if row is None else row_to_account(row)

    async def totals(self) -> Totals:
        row = await self._one(
            "read the totals",
            "SELECT coalesce(sum(requests), 0), coalesce(sum(tokens), 0) FROM totals",
            (),
        )
        return Totals() if row is None else Totals(requests=int(row[0]), tokens=int(row[1]))

    async def count(self) -> int:
        row = await self._one("count the accounts", "SELECT count(*) FROM accounts", ())
        return int(row[0]) if row else 0

    async def held(self, user_id: str) -> int:
        """Tokens held by live holds (an expired one no longer counts, even if not swept)."""
        row = await self._one(
            "read the holds",
            "SELECT coalesce(sum(amount), 0) FROM holds WHERE user_id = %s AND expires_at >= now()",
            (user_id,),
        )
        return int(row[0]) if row else 0

    async def page(self, offset: int, limit: int) -> list[Account]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    f"SELECT {COLUMNS} FROM accounts ORDER BY seq OFFSET %s LIMIT %s",
                    (offset, limit),
                )
                return [row_to_account(row) for row in await cursor.fetchall()]
        except psycopg.Error as exc:
            raise failed("list accounts", exc) from exc

    async def access(self) -> AccessList:
        row = await self._one(
            "read the access list", f"SELECT global_extra -> '{ACCESS}' FROM document_extra", ()
        )
        return access_format.from_json(None if row is None else row[0])

    async def change_access(self, change: Callable[[AccessList], AccessList]) -> AccessList:
        """The one row of document_extra locked, the list changed inside its "global" keys
        (their order kept: json, not jsonb), written back, in one transaction."""
        try:
            async with self._pool.connection() as connection, connection.transaction():
                cursor = await connection.execute(
                    "SELECT global_extra FROM document_extra FOR UPDATE"
                )
                row = await cursor.fetchone()
                kept = dict(row[0] or {}) if row is not None else {}
                changed = change(access_format.from_json(kept.get(ACCESS)))
                kept[ACCESS] = access_format.to_json(changed)
                await connection.execute(
                    "UPDATE document_extra SET global_extra = %s", (Json(kept),)
                )
        except psycopg.Error as exc:
            raise failed("save the access list", exc) from exc
        return changed

    async def register(self, new: Account) -> Account:
        user_id = str(new.user_id)
        row = await self._one("register an account", _REGISTER, (user_id, *account_row(new)))
        if row is None:  # the id was taken: the stored account wins
            row = await self._one(
                "read an account", f"SELECT {COLUMNS} FROM accounts WHERE id = %s", (user_id,)
            )
            if row is None:
                raise StorageError(f"PostgreSQL: account {user_id} vanished while registering")
        return row_to_account(row)

    async def hold(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        hold = await self._hold(user_id, minimum, maximum)
        if hold is None and await self._expire(user_id):
            hold = await self._hold(user_id, minimum, maximum)
        return hold

    async def _hold(self, user_id: str, minimum: int, maximum: int) -> Hold | None:
        """Holds that arrive while a batch is being made go out together in the next
        one statement, one per account at a time."""
        wanted = _Wanted(user_id, minimum, maximum)
        self._wanted.append(wanted)
        async with self._holding:
            while not wanted.outcome.done():
                batch: dict[str, _Wanted] = {}
                later = []
                for each in self._wanted:
                    if each.user_id in batch:
                        later.append(each)
                    else:
                        batch[each.user_id] = each
                self._wanted = later
                try:
                    await self._hold_all(list(batch.values()))
                finally:
                    for each in batch.values():
                        if not each.outcome.done():
                            each.outcome.set_exception(
                                StorageError("PostgreSQL: the hold was interrupted")
                            )
        return wanted.outcome.result()

    async def _hold_all(self, batch: list[_Wanted]) -> None:
        holds = {uuid.uuid4().hex: each for each in batch}
        params = {
            "users": [each.user_id for each in holds.values()],
            "minimums": [each.minimum for each in holds.values()],
            "maximums": [each.maximum for each in holds.values()],
            "holds": list(holds),
            "lease": self.lease,
        }
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(_RESERVE, params)
                rows = await cursor.fetchall()
        except psycopg.Error as exc:
            error = failed("hold tokens", exc)
            for each in batch:
                each.outcome.set_exception(error)
            return
        for hold_id, amount in rows:
            each = holds.pop(hold_id)
            each.outcome.set_result(Hold(user_id=each.user_id, amount=int(amount), id=hold_id))
        for each in holds.values():
            each.outcome.set_result(None)

    async def _expire(self, user_id: str) -> bool:
        """Give back this user's expired holds; whether there were any."""
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(_EXPIRE, {"user": user_id})
                return cursor.rowcount > 0
        except psycopg.Error as exc:
            raise failed("expire holds", exc) from exc

    async def expire_holds(self) -> int:
        """Give back every expired hold (a sweep for tools and tests); how many accounts."""
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT DISTINCT user_id FROM holds WHERE expires_at < now()"
                )
                users = [row[0] for row in await cursor.fetchall()]
        except psycopg.Error as exc:
            raise failed("find expired holds", exc) from exc
        # One account at a time: a hold's row is locked before its account's, as everywhere.
        return sum([await self._expire(user) for user in users])

    async def release(self, hold: Hold) -> None:
        """Give ``hold`` back; when that fails, StorageError, and it is tried again in the
        background until it succeeds or the lease ends."""
        try:
            await self._release(hold)
        except StorageError:
            task = asyncio.create_task(self._release_later(hold))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)
            raise

    async def _release(self, hold: Hold) -> None:
        try:
            async with self._pool.connection() as connection:
                await connection.execute(_RELEASE, {"user": hold.user_id, "hold": hold.id})
        except psycopg.Error as exc:
            raise failed("release a hold", exc) from exc

    async def _release_later(self, hold: Hold) -> None:
        ends = time.monotonic() + self.lease.total_seconds()
        delay = RELEASE_RETRY_FIRST
        while time.monotonic() < ends:
            await asyncio.sleep(delay)
            try:
                await self._release(hold)
            except StorageError:
                delay = min(delay * 2, RELEASE_RETRY_MOST)
                continue
            log.warning("gave back the %s tokens held for user %s", hold.amount, hold.user_id)
            return
        log.error(
            "could not give back the %s tokens held for user %s before the hold's lease ended "
            "(an expired hold no longer counts)",
            hold.amount,
            hold.user_id,
        )

    @property
    def releasing(self) -> int:
        """Holds whose release failed and is being tried again."""
        return len(self._releasing)

    async def settle(
        self, user_id: str, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        """See ``change``: the same batches, the totals counted in the same transaction."""
        return await self._apply(_Pending(user_id, entry.post, release))

    async def change(self, user_id: str, change: Callable[[Account], Account]) -> Account | None:
        """Changes that arrive while a batch is being written go out together in the next
        one, in one transaction (group commit): a few round trips per batch, not per change.
        Each change is all or nothing on its own: one whose function raises is left out of
        its batch, hold included; a batch that cannot be written fails every change in it."""

        def post(current: Account) -> Posting:
            return Posting(change(current), Totals(), 0)

        posting = await self._apply(_Pending(user_id, post, None))
        return None if posting is None else posting.account

    async def _apply(self, pending: _Pending) -> Posting | None:
        self._queue.append(pending)
        async with self._lock:
            if not pending.outcome.done():
                batch, self._queue = self._queue, []
                try:
                    await self._settle(batch)
                finally:
                    for each in batch:  # cancelled or failed part-way: no caller waits forever
                        if not each.outcome.done():
                            each.outcome.set_exception(
                                StorageError("PostgreSQL: the change was interrupted")
                            )
        return pending.outcome.result()

    async def _settle(self, batch: list[_Pending]) -> None:
        try:
            async with self._pool.connection() as connection, connection.transaction():
                done = await self._settle_in(connection, batch)
        except psycopg.Error as exc:
            error = failed("save a change to an account", exc)
            for each in batch:
                if not each.outcome.done():
                    each.outcome.set_exception(error)
            return
        for each, result in done:
            each.outcome.set_result(result)

    async def _settle_in(
        self, connection: psycopg.AsyncConnection[Any], batch: list[_Pending]
    ) -> list[tuple[_Pending, Posting | None]]:
        """Apply the batch's functions in order and write the results; the outcomes to give
        once the transaction commits (a function's exception is given at once)."""
        ids = sorted({each.user_id for each in batch})
        cursor = await connection.execute(_LOCK_ACCOUNTS, (ids,))
        current = {row[0]: row_to_account(row) for row in await cursor.fetchall()}
        changed: dict[str, Account] = {}
        holds: list[Hold] = []
        counted = Totals()
        done: list[tuple[_Pending, Posting | None]] = []
        for each in batch:
            before = current.get(each.user_id)
            if before is None:
                done.append((each, None))
                continue
            try:
                posting = each.post(before)
                if str(posting.account.user_id) != each.user_id:
                    raise StorageError(f"a change of account {each.user_id} must not change its id")
            except Exception as exc:
                each.outcome.set_exception(exc)
                continue
            current[each.user_id] = changed[each.user_id] = posting.account
            # Summed as they come: the shards' sum is the totals, never below zero since a
            # refund only follows its charge.
            counted = Totals(
                counted.requests + posting.counted.requests, counted.tokens + posting.counted.tokens
            )
            if each.release is not None:
                holds.append(each.release)
            done.append((each, posting))
        if changed:
            rows = [(user, *account_row(value)) for user, value in changed.items()]
            columns = [list(column) for column in zip(*rows, strict=True)]
            await connection.execute(
                _SETTLE, ([h.id for h in holds], [h.user_id for h in holds], *columns)
            )
        if counted != Totals():
            # Last in the transaction, so the row stays locked only until the commit.
            await connection.execute(
                "UPDATE totals SET requests = requests + %s, tokens = tokens + %s WHERE shard = %s",
                (counted.requests, counted.tokens, random.randrange(SHARDS)),
            )
        return done

    async def close(self) -> None:
        if self._releasing:
            log.error(
                "stopping with %d holds not given back: they are free when their lease ends",
                len(self._releasing),
            )
            for task in list(self._releasing):
                task.cancel()
            await asyncio.gather(*self._releasing, return_exceptions=True)
        if self._owns_pool:
            await self._pool.close()


SHARDS = 16  # rows of the totals table


def _future() -> asyncio.Future[Any]:
    """The outcome of a batched call. A caller cancelled while it waits leaves the outcome
    unread: reading it here keeps asyncio from logging an error nobody needs."""
    outcome = asyncio.get_running_loop().create_future()
    outcome.add_done_callback(lambda done: done.cancelled() or done.exception())
    return outcome


@attrs.define
class _Wanted:
    """A hold waiting for its batch."""

    user_id: str
    minimum: int
    maximum: int
    outcome: asyncio.Future[Hold | None] = attrs.field(factory=lambda: _future())


@attrs.define
class _Pending:
    """A change waiting for its batch."""

    user_id: str
    post: Callable[[Account], Posting]
    release: Hold | None
    outcome: asyncio.Future[Posting | None] = attrs.field(factory=lambda: _future())
