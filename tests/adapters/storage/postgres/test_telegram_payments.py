"""The Stars story of tests/e2e/test_telegram_payments.py on PostgreSQL: /buy, the
pre-checkout, a payment delivered twice and credited once, a refund taken back once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adapters.storage.postgres.accounts import PostgresAccountStore
from tests.adapters.messengers.telegram.fakes import ALICE
from tests.e2e.test_telegram import settings_for
from tests.e2e.test_telegram_payments import PACKS, START, buy_pay_repeat_refund

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # slow: a whole bot


async def test_buy_pay_twice_and_refund_on_postgresql(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, STAR_PACKS=PACKS, DATABASE_URL=database_url)
    reader = await PostgresAccountStore.open(database_url, pool_size=1)

    async def balance() -> int:
        account = await reader.get(str(ALICE.id))
        return -1 if account is None else account.balance

    try:
        await buy_pay_repeat_refund(settings, balance)
        assert await balance() == START
        [purchase] = await reader.purchases(dt.datetime(2000, 1, 1))
        assert (purchase.charge_id, purchase.tokens) == ("stxCHARGE1", 100_000)
        assert purchase.refunded_at is not None
    finally:
        await reader.close()
