"""data.json into PostgreSQL and back, exact for every account."""

from __future__ import annotations

import json

import attrs
import psycopg
import pytest

from adapters.storage.json import format as data_json
from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.transfer import export_data_json, import_data_json
from core.errors import CorruptData, StorageError
from core.values import Account

pytestmark = pytest.mark.postgres

SEED = {
    "global": {"requests": 12, "tokens": 3400, "since": "2021"},
    "settings": {"keep": [1, 2, {"deep": None}]},
    "123": {
        "requests": 10,
        "tokens": 3000,
        "balance": 27000,
        "name": "John",
        "username": "@johndoe",
        "last_request": "2021-01-01 00:00:00",
        "prompt": "Talk like a pirate",
        "voice": True,
    },
    "-100500": {"requests": 0, "tokens": 0, "balance": 30000, "username": "None", "voice": False},
    "77": {
        "zeta": 1,
        "balance": 5,
        "lastdate": "03.02.2023 10:11:12",
        "blacklist": True,
        "alpha": {"b": 2, "a": 1.5},
        "name": "Ærøskøbing 🚀",
    },
    "88": {"balance": 1, "lastdate": "not a date", "tokens": 400, "requests": 2},
}
# The older bot's later versions: the model each person chose.
WITH_MODELS = {
    "global": {"requests": 0, "tokens": 0},
    "1": {"requests": 0, "tokens": 0, "balance": 1, "username": "None", "lang_model": "gpt-4"},
    "2": {"requests": 0, "tokens": 0, "balance": 2, "username": "None", "lang_model": ""},
    "3": {"requests": 0, "tokens": 0, "balance": 3, "username": "None", "lang_model": None},
    "4": {"requests": 0, "tokens": 0, "balance": 4, "username": "None"},
    "5": {"lang_model": "Модель 🚀", "requests": 0, "tokens": 0, "balance": 5, "username": "None"},
}


async def embedded_rewrite(path) -> bytes:
    """data.json as the embedded store itself writes it after reading ``path``."""
    store = JsonAccounts.open(path)
    try:
        return data_json.joined(data_json.serialize(store.contents()))
    finally:
        await store.close()


async def test_import_then_export_gives_back_the_file_exactly(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text(json.dumps(SEED, ensure_ascii=False, indent=1), encoding="utf-8")
    assert await import_data_json(database_url, source) == 4
    target = tmp_path / "exported.json"
    assert await export_data_json(database_url, target) == 4
    assert target.read_bytes() == await embedded_rewrite(source)
    exported = json.loads(target.read_bytes())
    assert exported["77"]["alpha"] == {"b": 2, "a": 1.5}
    assert list(exported["77"]) == list(json.loads(await embedded_rewrite(source))["77"])
    assert exported["settings"] == SEED["settings"]
    assert exported["global"]["since"] == "2021"


async def test_imported_accounts_are_served_by_the_store(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text(json.dumps(SEED), encoding="utf-8")
    await import_data_json(database_url, source)
    store = await PostgresAccountStore.open(database_url)
    try:
        john = await store.get("123")
        assert john is not None
        assert (john.balance, john.name, john.username, john.prompt) == (
            27000,
            "John",
            "johndoe",
            "Talk like a pirate",
        )
        assert john.voice is True  # /voice on, in its column
        assert (await store.totals()).tokens == 3400
        assert await store.count() == 4
        # A change made in PostgreSQL is in the next export, unknown keys still beside it.
        await store.change("77", lambda a: attrs.evolve(a, balance=a.balance + 10))
        await store.register(Account(user_id="999", balance=30000))
    finally:
        await store.close()
    target = tmp_path / "out.json"
    await export_data_json(database_url, target)
    exported = json.loads(target.read_bytes())
    assert exported["77"]["balance"] == 15
    assert exported["77"]["blacklist"] is True
    assert list(exported)[-1] == "999"


async def test_the_journal_is_imported_too(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text(json.dumps(SEED), encoding="utf-8")
    journal = tmp_path / "data.json.journal"
    record = {"users": {"123": {"balance": 1, "requests": 11, "tokens": 3001}},
              "global": {"requests": 13, "tokens": 3401}}  # fmt: skip
    journal.write_text(json.dumps(record) + "\n", encoding="utf-8")
    await import_data_json(database_url, source)
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT balance FROM accounts WHERE id = '123'").fetchone() == (
            1,
        )
        assert connection.execute("SELECT sum(requests) FROM totals").fetchone() == (13,)


async def test_import_refuses_a_database_that_has_accounts(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text(json.dumps(SEED), encoding="utf-8")
    await import_data_json(database_url, source)
    with pytest.raises(StorageError, match="already has 4 accounts"):
        await import_data_json(database_url, source)


async def test_a_damaged_file_imports_nothing(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text('{"1": {"balance": 5}, "2": {"balance": "lots"}}', encoding="utf-8")
    with pytest.raises(CorruptData):
        await import_data_json(database_url, source)
    with pytest.raises(StorageError, match="no such file"):
        await import_data_json(database_url, tmp_path / "missing.json")
    store = await PostgresAccountStore.open(database_url)
    try:
        assert await store.count() == 0
    finally:
        await store.close()


async def test_export_refuses_a_file_whose_journal_holds_changes(database_url, tmp_path):
    target = tmp_path / "data.json"
    (tmp_path / "data.json.journal").write_text('{"users": {}, "global": {}}\n')
    with pytest.raises(StorageError, match="journal"):
        await export_data_json(database_url, target)
    assert not target.exists()


async def test_the_model_each_person_chose_goes_in_and_out_exactly(database_url, tmp_path):
    source = tmp_path / "data.json"
    source.write_text(json.dumps(WITH_MODELS, ensure_ascii=False), encoding="utf-8")
    assert await import_data_json(database_url, source) == 5
    target = tmp_path / "exported.json"
    await export_data_json(database_url, target)
    assert target.read_bytes() == await embedded_rewrite(source)
    assert json.loads(target.read_bytes()) == WITH_MODELS  # null and "" as they were
    store = await PostgresAccountStore.open(database_url)
    try:
        models = {key: getattr(await store.get(key), "model", "absent") for key in "12345"}
        assert models == {"1": "gpt-4", "2": None, "3": None, "4": None, "5": "Модель 🚀"}
        await store.change("1", lambda a: attrs.evolve(a, model=None))
        await store.change("2", lambda a: attrs.evolve(a, model="local"))
        await store.change("4", lambda a: attrs.evolve(a, model="gpt-5"))
    finally:
        await store.close()
    await export_data_json(database_url, target)
    exported = json.loads(target.read_bytes())
    assert "lang_model" not in exported["1"]
    assert exported["2"]["lang_model"] == "local"
    assert exported["3"]["lang_model"] is None
    assert exported["4"]["lang_model"] == "gpt-5"
    again = JsonAccounts.open(target)
    try:
        assert await again.get("4") == Account(user_id="4", balance=4, model="gpt-5")
    finally:
        await again.close()
