"""Stars offline in the console: /buy prints the invoices, ``:pay`` plays a payment with a new
charge id, ``:pay --charge ID`` reports one again and it is credited once, /refund takes it
back; data.json keeps the purchases; ``gptbot export --usage`` writes the days as CSV."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from pathlib import Path

from entrypoints import cli
from tests.e2e.test_console import run

PACKS = "50:100000,250:600000"


async def test_pay_repeat_a_charge_and_refund(tmp_path: Path) -> None:
    script = (
        "/buy\n:pay 50\n:pay --charge abc 250\n:pay --charge abc 250\n:pay 7\n:admin\n/refund abc\n"
    )
    out = await run(tmp_path, script, STAR_PACKS=PACKS, STARTING_BALANCE="1000")
    assert "[invoice] 100 000 tokens: 50 ⭐" in out
    assert "[invoice] 600 000 tokens: 250 ⭐" in out
    assert "Your balance: 101 000." in out
    assert "Your balance: 701 000." in out
    assert "was credited already: 600 000 tokens. Your balance: 701 000." in out
    assert "No pack costs 7 Stars; the packs: 50, 250." in out
    assert "600 000 tokens taken back. Their balance: 101 000." in out
    data = json.loads((tmp_path / "data.json").read_text())
    assert data["100"]["balance"] == 101_000
    purchases = data["global"]["purchases"]
    assert len(purchases) == 2
    assert purchases["abc"]["refunded_at"] is not None
    out = await run(tmp_path, ":pay --charge abc 250\n", STAR_PACKS=PACKS)  # a new start
    assert "was credited already" in out
    assert json.loads((tmp_path / "data.json").read_text())["100"]["balance"] == 101_000


async def test_without_packs_nothing_is_for_sale(tmp_path: Path) -> None:
    out = await run(tmp_path, "/buy\n:pay 50\n")
    assert "Nothing is for sale" in out
    assert "No pack costs 50 Stars; the packs: none (set STAR_PACKS)." in out


async def test_export_usage_writes_tokens_and_stars_per_day(tmp_path: Path) -> None:
    await run(tmp_path, "hello\n:pay 50\n", STAR_PACKS=PACKS)
    env = tmp_path / "settings.env"
    env.write_text(f"DATA_FILE={tmp_path / 'data.json'}\n")
    target = tmp_path / "usage.csv"
    assert (
        await asyncio.to_thread(
            cli.main, ["export", "--usage", str(target), "--env-file", str(env)]
        )
        == 0
    )
    rows = list(csv.reader(target.read_text().splitlines()))
    assert rows[0] == ["day", "tokens", "stars"]
    assert len(rows) == 31
    today = rows[-1]
    assert today[0] == dt.date.today().isoformat()
    tokens = json.loads((tmp_path / "data.json").read_text())["global"]["usage"][today[0]]
    assert today[1:] == [str(tokens), "50"]
    assert all(row[1:] == ["0", "0"] for row in rows[1:-1])
