"""The schema comes from numbered SQL files, each applied once, whoever starts first."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from adapters.storage.postgres.connect import connect
from adapters.storage.postgres.migrate import migrate, migrations

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
