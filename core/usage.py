"""The operator's view: tokens charged and Stars paid per day, for /stats, /usage and the
export. Tokens come from the tally each charge keeps with it (``AccountStore.tokens_by_day``),
Stars from the purchases not refunded. Days are the clock's (local) days."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import attrs

from core import errors
from core.parts import Parts
from core.ports import AccountStore, UsageChart
from core.values import DayUsage, Incoming

DAYS = 30


async def by_day(accounts: AccountStore, today: dt.date, days: int = DAYS) -> list[DayUsage]:
    """Every day of the last ``days`` up to ``today``, oldest first, idle days included."""
    first = today - dt.timedelta(days=days - 1)
    tokens = await accounts.tokens_by_day(first)
    stars: Counter[dt.date] = Counter()
    for purchase in await accounts.purchases(dt.datetime.combine(first, dt.time())):
        if purchase.refunded_at is None:
            stars[purchase.at.date()] += purchase.stars
    return [
        DayUsage(day, tokens.get(day, 0), stars[day])
        for day in (first + dt.timedelta(days=n) for n in range(days))
        if day <= today
    ]


def busy(days: Sequence[DayUsage]) -> list[DayUsage]:
    """The days with any tokens or Stars."""
    return [day for day in days if day.tokens or day.stars]


@attrs.define
class OperatorView:
    """The admin's numbers per day: lines for /stats, a chart for /usage."""

    parts: Parts
    chart: UsageChart | None  # None: no charts here (matplotlib is not installed)

    async def days(self) -> list[DayUsage]:
        return await by_day(self.parts.accounts, self.parts.clock.now().date())

    async def stats_lines(self, incoming: Incoming) -> str:
        """What /stats adds for the admin: one line per day with tokens or Stars."""
        replies = self.parts.replies
        days = busy(await self.days())
        if not days:
            return replies.text(incoming, "stats_days_none", days=DAYS)
        lines = [
            replies.text(
                incoming, "stats_day", day=d.day.isoformat(), tokens=d.tokens, stars=d.stars
            )
            for d in days
        ]
        return replies.text(incoming, "stats_days", days=DAYS, lines="\n".join(lines))

    async def usage(self, incoming: Incoming) -> None:
        """``/usage``: the chart of the last days, in the admin's private chat."""
        replies = self.parts.replies
        if not incoming.private:
            await replies.say(incoming, "usage_private")
            return
        if self.chart is None:
            await replies.say(incoming, "usage_unavailable")
            return
        days = await self.days()
        picture = await self.chart.draw(
            days,
            replies.text(incoming, "usage_title", days=DAYS),
            replies.text(incoming, "usage_tokens"),
            replies.text(incoming, "usage_stars"),
        )
        caption = replies.text(
            incoming,
            "usage_caption",
            days=DAYS,
            tokens=sum(d.tokens for d in days),
            stars=sum(d.stars for d in days),
        )
        try:
            await replies.sink.send_picture(incoming.chat_id, picture, caption)
        except errors.DeliveryFailed:
            await replies.send(incoming, caption)
