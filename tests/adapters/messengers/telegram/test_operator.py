"""The admin's notices on the fake Telegram."""

from __future__ import annotations

import pytest

from adapters.messengers.telegram.flood import UNLIMITED
from adapters.messengers.telegram.operator import TelegramOperator
from adapters.messengers.telegram.sink import TelegramSink
from core.errors import DeliveryFailed
from tests.adapters.messengers.telegram.fakes import BOB, FakeTelegram


async def test_a_notice_reaches_the_admin_private_chat() -> None:
    tg = FakeTelegram()
    await TelegramOperator(TelegramSink(tg, limits=UNLIMITED), str(BOB.id)).notify("3 new users")
    assert [m.message for m in tg.shown(BOB.id)] == ["3 new users"]


async def test_an_admin_the_bot_cannot_reach_is_a_delivery_failure() -> None:
    tg = FakeTelegram()
    operator = TelegramOperator(TelegramSink(tg, limits=UNLIMITED), 31337)  # never seen
    with pytest.raises(DeliveryFailed):
        await operator.notify("hello")
