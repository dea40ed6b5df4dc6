"""The schema comes from numbered SQL files, each applied once, whoever starts first."""

from __future__ import annotations

import asyncio
import json

import attrs
import psycopg
import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.connect import connect
from adapters.storage.postgres.migrate import migrate, migrations
from adapters.storage.postgres.threads import PostgresThreadStore
from adapters.storage.postgres.transfer import export_data_json
from core.threads import chain_of
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
    # Each migration once, by whichever process took the lock first (on a busy machine that
    # may be a different process for each one).
    assert sorted(name for each in applied for name in each) == names
    with psycopg.connect(database_url) as check:
        rows = check.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [name for _, name in rows.fetchall()] == names
    last = await connect(database_url)
    try:
        assert await migrate(last) == []
    finally:
        await last.close()


async def test_a_database_of_the_previous_version_gets_the_model_and_attachments(
    database_url, tmp_path
):
    """Made by the version that had only the first migration: accounts (some imported from
    files with "lang_model") and a node."""
    first_number, first_name, first_sql = migrations()[0]
    with psycopg.connect(database_url, autocommit=True) as old:
        old.execute(first_sql.encode())
        old.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        old.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (first_number, first_name))
        old.execute("INSERT INTO accounts (id, balance) VALUES ('1', 5)")
        # What the previous version's import made of entries with "lang_model": a key it did
        # not interpret, kept in extra.
        old.execute(
            "INSERT INTO accounts (id, balance, extra) VALUES"
            """ ('2', 6, '{"zeta": 1, "lang_model": "gpt-4", "alpha": {"b": 2, "a": 1}}'),"""
            """ ('3', 7, '{"lang_model": "Модель"}'), ('4', 8, '{"lang_model": ""}'),"""
            """ ('5', 9, '{"lang_model": null, "x": true}')"""
        )
        old.execute("INSERT INTO nodes (chat, message, role, text) VALUES ('c', '1', 'user', 'hi')")
    accounts = await PostgresAccountStore.open(database_url)
    threads = await PostgresThreadStore.open(database_url)
    try:
        assert await accounts.get("1") == Account(user_id="1", balance=5)
        await accounts.change("1", lambda a: attrs.evolve(a, model="gpt-vision"))
        assert await accounts.get("1") == Account(user_id="1", balance=5, model="gpt-vision")
        assert [getattr(await accounts.get(key), "model", "absent") for key in "2345"] == [
            "gpt-4",
            "Модель",
            None,
            None,
        ]
        assert await threads.get("c", "1") == Node("c", "1", Role.USER, "hi")
        photo = Attachment(MediaKind.IMAGE, "2")
        look = Node("c", "2", Role.USER, "look", "1", (photo,))
        await threads.add([look])
        assert await chain_of(threads, "c", "2", 1) == [look]
    finally:
        await accounts.close()
        await threads.close()
    with psycopg.connect(database_url) as check:
        rows = check.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        extras = check.execute("SELECT id, extra::text FROM accounts ORDER BY id").fetchall()
    assert [version for (version,) in rows] == [number for number, _, _ in migrations()]
    assert [json.loads(extra) if extra else None for _, extra in extras] == [
        None,
        {"zeta": 1, "alpha": {"b": 2, "a": 1}},  # in their order
        None,
        {"lang_model": ""},
        {"lang_model": None, "x": True},
    ]
    assert list(json.loads(extras[1][1])) == ["zeta", "alpha"]
    exported = tmp_path / "data.json"
    await export_data_json(database_url, exported)
    written = json.loads(exported.read_text())
    assert written["2"]["lang_model"] == "gpt-4"
    assert list(written["2"])[-2:] == ["zeta", "alpha"]
    assert [written[key]["lang_model"] for key in "345"] == ["Модель", "", None]
