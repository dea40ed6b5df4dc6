"""The in-memory stores and the real ones keep the same accounts and reply chains, the chosen
model, a node's attachments, the access list, allowance refills and purchases (each charge
credited once, refunded once) included, reply chains read
at once too (``chain``), and a restart
reads back what was acknowledged.

Generated steps of changes, each step's changes made at the same time (so they go out in group
commits together), played on the memory stores and on data.json with the SQLite reply chains;
tests/adapters/storage/postgres/test_stores_alike.py plays them on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from adapters.storage.sqlite.threads import SqliteThreads
from core.allowances import refilled
from core.errors import StorageError
from core.ports import AccountStore, ThreadStore
from core.threads import chain_of
from core.values import Account, Node, Purchase, Role, Totals
from tests.adapters.storage.test_attachments import attachments
from tests.adapters.storage.test_chains import until_repeat
from tests.fakes import Entry

USERS = ("1", "2", "3")
BOUGHT = dt.datetime(2026, 1, 5, 10, 0, 0)
CHATS = ("1", "-5")
MESSAGES = tuple(str(n) for n in range(1, 7))

# A model name as a person may pick one; text a database can hold (no lone surrogates, no NUL).
models = st.none() | st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)


@attrs.frozen
class Register:
    user: str
    model: str | None


@attrs.frozen
class Choose:
    user: str
    model: str | None


@attrs.frozen
class Charge:
    user: str
    tokens: int


@attrs.frozen
class Add:
    nodes: tuple[Node, ...]


@attrs.frozen
class Allow:
    entry: str
    allowed: bool  # False: disallow


@attrs.frozen
class Credit:
    """A payment reported (a charge id seen before credits nothing more)."""

    charge: str
    user: str
    tokens: int


@attrs.frozen
class TakeBack:
    charge: str


@attrs.frozen
class Refill:
    user: str
    period: str
    allowance: int


nodes = st.builds(
    Node,
    chat_id=st.sampled_from(CHATS),
    message_id=st.sampled_from(MESSAGES),
    role=st.sampled_from([Role.USER, Role.ASSISTANT, None]),
    text=st.sampled_from(["hi", "ответ 🙂"]),
    parent=st.none() | st.sampled_from(MESSAGES),
    attachments=st.lists(attachments, max_size=3).map(tuple),
)
users = st.sampled_from(USERS)
changes = st.one_of(
    st.builds(Register, users, models),
    st.builds(Choose, users, models),
    st.builds(Charge, users, st.integers(0, 50)),
    st.builds(Add, st.lists(nodes, min_size=1, max_size=4).map(tuple)),
    st.builds(Allow, st.sampled_from(["1", "-5", "@ann", "@Bo"]), st.booleans()),
    st.builds(Refill, users, st.sampled_from(["2026-01", "2026-02"]), st.integers(0, 150)),
    st.builds(Credit, st.sampled_from(["a", "b"]), users, st.integers(1, 500)),
    st.builds(TakeBack, st.sampled_from(["a", "b", "c"])),
)
steps = st.lists(st.lists(changes, min_size=1, max_size=4), min_size=1, max_size=8)


async def make(change: object, accounts: AccountStore, threads: ThreadStore) -> None:
    match change:
        case Register(user, model):
            await accounts.register(Account(user_id=user, balance=100, model=model))
        case Choose(user, model):
            await accounts.change(user, lambda a: attrs.evolve(a, model=model))
        case Charge(user, tokens):
            await accounts.settle(
                user,
                Entry(
                    lambda a: attrs.evolve(a, balance=a.balance - tokens, tokens=a.tokens + tokens),
                    Totals(1, tokens),
                ),
            )
        case Add(added):
            await threads.add(added)
        case Allow(entry, True):
            await accounts.change_access(lambda a: a.allowing(entry))
        case Allow(entry, False):
            await accounts.change_access(lambda a: a.disallowing(entry))
        case Refill(user, period, allowance):
            await accounts.change(user, refilled(period, allowance))
        case Credit(charge, user, tokens):
            with contextlib.suppress(StorageError):  # no such account yet: refused alike
                await accounts.credit(Purchase(charge, user, 5, tokens, BOUGHT))
        case TakeBack(charge):
            await accounts.take_back(charge, BOUGHT)


async def everything(accounts: AccountStore, threads: ThreadStore) -> object:
    return (
        [await accounts.get(user) for user in USERS],
        await accounts.totals(),
        await accounts.access(),
        await accounts.page(0, len(USERS)),
        await accounts.purchases(BOUGHT),
        [await threads.get(chat, message) for chat in CHATS for message in MESSAGES],
        [  # a store may repeat the nodes of a cycle where the memory store stops
            until_repeat(await chain_of(threads, chat, message, limit))
            for chat in CHATS
            for message in MESSAGES
            for limit in (1, 3, 10)
        ],
    )


Stores = tuple[AccountStore, ThreadStore]


async def play_alike(
    played: list[list[object]],
    open_real: Callable[[], Awaitable[Stores]],
) -> None:
    """Play on memory and on the real stores: the same at the end, and after reopening."""
    memory: Stores = (MemoryAccountStore(), MemoryThreadStore())
    real = await open_real()
    try:
        for step in played:
            # Registrations first: one made at the same time as a change of the same account
            # may land before or after it in a database shared by connections. So do changes
            # of the access list and refills, which do not commute with the others.
            # Purchases too: the first report of a charge is the one that counts.
            ordered = Register | Allow | Refill | Credit | TakeBack
            first = [change for change in step if isinstance(change, ordered)]
            rest = [change for change in step if not isinstance(change, ordered)]
            for stores in (memory, real):
                for change in first:
                    await make(change, *stores)
                await asyncio.gather(*(make(change, *stores) for change in rest))
        expected = await everything(*memory)
        assert await everything(*real) == expected
    finally:
        for store in real:
            await store.close()
    again = await open_real()
    try:
        assert await everything(*again) == expected
    finally:
        for store in again:
            await store.close()


_runs = itertools.count()


@pytest.mark.slow  # a property run on real files
def test_data_json_and_sqlite_keep_what_the_memory_stores_keep() -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def check(played: list[list[object]]) -> None:
        with tempfile.TemporaryDirectory() as folder:

            async def open_files() -> Stores:
                # snapshot_every=3: data.json is rewritten mid-run, the journal replayed after
                return (
                    JsonAccounts.open(Path(folder) / "data.json", snapshot_every=3),
                    SqliteThreads.open(Path(folder) / "data.threads.db"),
                )

            asyncio.run(play_alike(played, open_files))

    check()
