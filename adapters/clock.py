"""Clocks: the system's, and a fake one that tests move by hand."""

from __future__ import annotations

import datetime as dt

import attrs


class SystemClock:
    """Local wall-clock time, to the second (data.json keeps seconds)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now().replace(microsecond=0)


@attrs.define
class FakeClock:
    """A clock that stands still until told to move."""

    current: dt.datetime = dt.datetime(2026, 1, 1, 12, 0, 0)

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)
