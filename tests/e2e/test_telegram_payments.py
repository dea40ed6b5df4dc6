"""Telegram Stars through the Telegram entrypoint on the fake Telegram, with real TL objects:
/buy sends invoices in XTR, the pre-checkout is answered, a payment is credited once however
often Telegram delivers it, a SIGKILL between the credit and the thank-you credits nothing
twice, and /refund takes the tokens back. PostgreSQL runs the same scenario in
tests/adapters/storage/postgres/test_telegram_payments.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from telethon.tl import types

from adapters.storage.json.accounts import JsonAccounts
from entrypoints.settings import Settings
from entrypoints.telegram import serve
from tests.adapters.messengers.telegram.fakes import ALICE, FakeTelegram, incoming, until
from tests.e2e.test_telegram import ADMIN, settings_for

ROOT = Path(__file__).resolve().parents[2]
PACKS = "50:100000,250:600000"
START = 30_000


def texts(tg: FakeTelegram, chat: int) -> list[str]:
    return [m.message for m in tg.shown(chat)]


async def buy_pay_repeat_refund(
    settings: Settings, balance: Callable[[], Awaitable[int]]
) -> FakeTelegram:
    """The whole story on one bot; ``balance`` reads Alice's balance from the store."""
    tg = FakeTelegram()
    bot = asyncio.create_task(serve(settings, tg, handle_signals=False))
    await until(lambda: tg.shown(ADMIN.id), "the start notice")
    await tg.receive(incoming("/buy", message_id=1))
    await until(lambda: len(tg.invoices) == 2, "two invoices")
    first, second = tg.invoices
    assert [i.invoice.currency for i in tg.invoices] == ["XTR", "XTR"]
    assert [i.invoice.prices[0].amount for i in tg.invoices] == [50, 250]
    assert (first.provider, first.provider_data.data, first.payload) == (None, "{}", b"50:100000")
    assert second.payload == b"250:600000"

    await tg.receive_update(tg.precheckout(first, query_id=7))
    assert (tg.checkouts[7].success, tg.checkouts[7].error) == (True, None)
    forged = types.InputMediaInvoice(
        first.title, "", first.invoice, b"50:9999999", first.provider_data
    )
    await tg.receive_update(tg.precheckout(forged, query_id=8))
    assert tg.checkouts[8].success is None
    assert "больше не действует" in tg.checkouts[8].error  # Alice's client speaks Russian

    paid = tg.payment(first, "stxCHARGE1")
    await tg.receive_update(paid)
    await until(lambda: any("Спасибо" in t for t in texts(tg, ALICE.id)), "the thank-you")
    assert await balance() == START + 100_000
    await tg.receive_update(paid)  # Telegram delivers it again
    await until(lambda: any("уже зачтён" in t for t in texts(tg, ALICE.id)), "credited already")
    assert await balance() == START + 100_000

    await tg.receive(incoming("/refund stxCHARGE1", sender=ADMIN, message_id=2))
    await until(lambda: any("Refunded 50 ⭐" in t for t in texts(tg, ADMIN.id)), "refunded")
    assert tg.refunded == ["stxCHARGE1"]
    assert await balance() == START
    await tg.receive(incoming("/refund stxCHARGE1", sender=ADMIN, message_id=3))
    await until(lambda: any("refunded already" in t for t in texts(tg, ADMIN.id)), "again")
    assert tg.refunded == ["stxCHARGE1"]

    await tg.receive(incoming("/stop", sender=ADMIN, message_id=4))
    assert await asyncio.wait_for(bot, 10) == 0
    return tg


async def test_buy_pay_twice_and_refund_on_data_json(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, STAR_PACKS=PACKS)
    path = tmp_path / "data.json"

    async def balance() -> int:
        copy = path.parent / "copy"
        copy.mkdir(exist_ok=True)
        for name in ("data.json", "data.json.journal"):
            source = path.parent / name
            if source.exists():
                (copy / name).write_bytes(source.read_bytes())
        store = JsonAccounts.open(copy / "data.json")
        try:
            account = await store.get(str(ALICE.id))
            return -1 if account is None else account.balance
        finally:
            await store.close()

    # The running bot holds data.json: its balance is read from a copy of the files.
    await buy_pay_repeat_refund(settings, balance)
    data = json.loads(path.read_text())
    assert data[str(ALICE.id)]["balance"] == START
    purchase = data["global"]["purchases"]["stxCHARGE1"]
    assert (purchase["user"], purchase["stars"], purchase["tokens"]) == (str(ALICE.id), 50, 100_000)
    assert purchase["refunded_at"] is not None


def _driver(folder: Path, charge: str, hang: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.payment_driver", str(folder), charge, PACKS]
        + (["hang"] if hang else []),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_kill_between_the_credit_and_the_thank_you_credits_once(tmp_path: Path) -> None:
    first = _driver(tmp_path, "stxKILLED", hang=True)
    assert first.stdout is not None
    line = first.stdout.readline()  # the thank-you on its way: the bot hangs there
    assert line.startswith("THANKING"), line
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    async def stored() -> int:
        store = JsonAccounts.open(tmp_path / "data.json")
        try:
            account = await store.get(str(ALICE.id))
            assert account is not None
            return account.balance
        finally:
            await store.close()

    # The thank-you was being sent: the credit is durable already.
    assert asyncio.run(stored()) == START + 100_000
    again = _driver(tmp_path, "stxKILLED", hang=False)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert "уже зачтён" in output  # told, not credited again
    assert asyncio.run(stored()) == START + 100_000
