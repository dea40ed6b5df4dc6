"""A data.json can go back to the older bot and return: written with the keys it was read with.

What the older bot needs was taken from the issue's facts (its /stats reads every user's
``lastdate`` as ``%d.%m.%Y %H:%M:%S``, ``username``, ``balance``, ``requests`` and ``tokens``, and
``global`` comes first), not from its code.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import attrs

from adapters.storage.json.accounts import JsonAccounts
from core.values import Account, Totals
from tests.fakes import Entry

OLDER = {
    "global": {"requests": 9, "tokens": 900},
    "1": {
        "requests": 1,
        "tokens": 100,
        "balance": 1,
        "username": "@ann",
        "lastdate": "01.02.2023 10:11:12",
    },
    "2": {
        "requests": 0,
        "tokens": 0,
        "balance": 30000,
        "username": "None",
        "lastdate": "11-09-2001 00:00:00",
    },
    "3": {
        "requests": 8,
        "tokens": 800,
        "balance": 5,
        "name": "Bo",
        "username": "None",
        "lastdate": "03-04-2023 05:06:07",
        "blacklist": True,
    },
    # Written by an earlier version of this bot, then used by the older bot again: the newer
    # date is the older bot's lastdate.
    "4": {
        "requests": 0,
        "tokens": 0,
        "balance": 7,
        "username": "@cy",
        "last_request": "2023-01-01 00:00:00",
        "lastdate": "05.05.2023 12:00:00",
    },
}


def older_bot_reads(path: Path) -> dict[str, dt.datetime | None]:
    """Read the file as the older bot's /stats does; the last request of each user."""
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert next(iter(document)) == "global"
    seen: dict[str, dt.datetime | None] = {}
    for key, entry in document.items():
        if key == "global":
            continue
        for field in ("username", "balance", "requests", "tokens"):
            assert field in entry, (key, field)
        raw = entry.get("lastdate")
        try:
            seen[key] = dt.datetime.strptime(raw, "%d.%m.%Y %H:%M:%S")
        except (TypeError, ValueError):
            seen[key] = None
    return seen


async def test_a_file_this_bot_wrote_reads_in_the_older_bot(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(OLDER))
    store = JsonAccounts.open(path)
    assert await store.get("2") == Account(user_id="2", balance=30_000)
    three = await store.get("3")
    assert three is not None
    assert three.banned
    assert three.last_request == dt.datetime(2023, 4, 3, 5, 6, 7)
    four = await store.get("4")
    assert four is not None
    assert four.last_request == dt.datetime(2023, 5, 5, 12)  # the newer of the two
    new = Account(user_id="5", balance=100, name="Dee", last_request=dt.datetime(2024, 6, 1))
    await store.register(new)
    await store.register(Account(user_id="6", balance=100))
    asked = dt.datetime(2024, 7, 1, 8, 9, 10)
    await store.settle("1", Entry(lambda a: attrs.evolve(a, last_request=asked), Totals(10, 900)))
    await store.change("3", lambda a: attrs.evolve(a, banned=False))
    await store.close()

    seen = older_bot_reads(path)
    assert seen == {
        "1": asked,
        "2": None,  # never asked: its placeholder, as it was
        "3": dt.datetime(2023, 4, 3, 5, 6, 7),
        "4": dt.datetime(2023, 5, 5, 12),
        "5": dt.datetime(2024, 6, 1),
        "6": None,
    }
    written = json.loads(path.read_text())
    assert written["2"] == OLDER["2"]
    assert written["3"]["blacklist"] is False
    assert written["4"]["last_request"] == "2023-05-05 12:00:00"  # kept where it was found
    assert written["6"] == {"requests": 0, "tokens": 0, "balance": 100, "username": "None"}
    assert written["1"]["username"] == "@ann"


async def test_the_older_bots_file_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(OLDER))
    store = JsonAccounts.open(path)
    before = {key: await store.get(key) for key in OLDER if key != "global"}
    await store.change("1", lambda a: a)
    await store.close()
    again = JsonAccounts.open(path)
    assert {key: await again.get(key) for key in before} == before
    await again.close()


# The older bot's later versions kept the model a person chose as "lang_model".
WITH_MODELS = {
    "global": {"requests": 0, "tokens": 0},
    "1": {"requests": 0, "tokens": 0, "balance": 1, "username": "None", "lang_model": "gpt-4"},
    "2": {"requests": 0, "tokens": 0, "balance": 2, "username": "None", "lang_model": ""},
    "3": {"requests": 0, "tokens": 0, "balance": 3, "username": "None", "lang_model": None},
    "4": {"requests": 0, "tokens": 0, "balance": 4, "username": "None"},
    "5": {"requests": 0, "tokens": 0, "balance": 5, "username": "None", "lang_model": "Модель"},
}


async def test_the_model_a_person_chose_in_the_older_bot_is_theirs(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(WITH_MODELS))
    store = JsonAccounts.open(path)
    models = {key: (await store.get(key)).model for key in "12345"}  # type: ignore[union-attr]
    assert models == {"1": "gpt-4", "2": None, "3": None, "4": None, "5": "Модель"}
    await store.change("4", lambda a: a)  # a change, so the file is rewritten on close
    await store.close()
    assert json.loads(path.read_text()) == WITH_MODELS  # every entry as it was, null and ""


async def test_a_model_chosen_here_is_written_for_the_older_bot(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(WITH_MODELS))
    store = JsonAccounts.open(path)
    for key, model in (("1", None), ("2", "gpt-5"), ("3", None), ("4", "local")):
        await store.change(key, lambda a, model=model: attrs.evolve(a, model=model))  # type: ignore[misc]
    await store.close()
    written = json.loads(path.read_text())
    assert "lang_model" not in written["1"]  # the default: no key, as for a new user
    assert written["2"]["lang_model"] == "gpt-5"
    assert written["3"]["lang_model"] is None  # the default still, as it was written
    assert written["4"]["lang_model"] == "local"
    assert written["5"] == WITH_MODELS["5"]
    again = JsonAccounts.open(path)
    models = {key: (await again.get(key)).model for key in "12345"}  # type: ignore[union-attr]
    assert models == {"1": None, "2": "gpt-5", "3": None, "4": "local", "5": "Модель"}
    await again.close()
