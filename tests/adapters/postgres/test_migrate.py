"""The schema comes from numbered SQL files, each applied once, whoever starts first."""

from __future__ import annotations

import asyncio

import attrs
import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.connect import connect
from adapters.storage.postgres.migrate import migrate, migrations
from adapters.storage.postgres.threads import PostgresThreadStore
from core.values import Account, Attachment, MediaKind, Node, Role

pytestmark = pytest.mark.postgres


def test_the_migrations_are_numbered_in_order():
    numbers = [number for number, _, _ in migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


async def test_each_migration_is_applied_once_even_by_processes_starting_together(database_url):
    connections = [await connect(database_url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    names = [name for _, name, _ in migrations()]
    assert sorted(applied, key=len) == [[], [], [], names]
    with psycopg.connect(database_url) as check:
        rows = check.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [name for _, name in rows.fetchall()] == names
    last = await connect(database_url)
    try:
        assert await migrate(last) == []
    finally:
        await last.close()


async def test_a_database_of_the_previous_version_gets_the_model_and_attachments(database_url):
    """Made by the version that had only the first migration, with an account and a node."""
    first_number, first_name, first_sql = migrations()[0]
    with psycopg.connect(database_url, autocommit=True) as old:
        old.execute(first_sql.encode())
        old.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        old.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (first_number, first_name))
        old.execute("INSERT INTO accounts (id, balance) VALUES ('1', 5)")
        old.execute("INSERT INTO nodes (chat, message, role, text) VALUES ('c', '1', 'user', 'hi')")
    accounts = await PostgresAccountStore.open(database_url)
    threads = await PostgresThreadStore.open(database_url)
    try:
        assert await accounts.get("1") == Account(user_id="1", balance=5)
        await accounts.change("1", lambda a: attrs.evolve(a, model="gpt-vision"))
        assert await accounts.get("1") == Account(user_id="1", balance=5, model="gpt-vision")
        assert await threads.get("c", "1") == Node("c", "1", Role.USER, "hi")
        photo = Attachment(MediaKind.IMAGE, "2")
        look = Node("c", "2", Role.USER, "look", "1", (photo,))
        await threads.add([look])
        assert await threads.chain("c", "2", 1) == [look]
    finally:
        await accounts.close()
        await threads.close()
    with psycopg.connect(database_url) as check:
        rows = check.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [version for (version,) in rows] == [number for number, _, _ in migrations()]
