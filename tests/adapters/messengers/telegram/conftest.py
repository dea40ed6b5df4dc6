"""The fake Telegram, a hand-moved clock, and a sink on them, for the adapter's tests."""

from __future__ import annotations

import pytest

from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import Mode
from tests.adapters.messengers.telegram.fakes import FakeTelegram, Ticker, unpaced_sink


@pytest.fixture
def tg() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def sink(tg: FakeTelegram, ticker: Ticker) -> TelegramSink:
    """Edited messages everywhere, no rate limits: drafts and pacing have tests of their own."""
    return unpaced_sink(tg, ticker, mode=Mode.EDIT)
