"""The /usage chart drawn by matplotlib: a real PNG of the days given, drawn off the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

from PIL import Image

from adapters.charts.usage import MatplotlibUsageChart
from core.values import DayUsage

DAYS = [
    DayUsage(dt.date(2026, 1, 1) + dt.timedelta(days=n), tokens=n * 1_000, stars=50 * (n % 3))
    for n in range(30)
]


async def test_a_png_of_thirty_days() -> None:
    picture = await MatplotlibUsageChart().draw(DAYS, "Токены и звёзды", "tokens", "Stars")
    assert picture.mime == "image/png"
    with Image.open(io.BytesIO(picture.data)) as image:
        image.verify()
        assert image.size == (900, 450)


async def test_drawing_leaves_the_event_loop_free() -> None:
    drawing = asyncio.ensure_future(MatplotlibUsageChart().draw(DAYS, "t", "tokens", "Stars"))
    await asyncio.sleep(0)  # it has started drawing
    # Drawn in a worker thread: the loop runs this coroutine again before the chart is done
    # (drawn on the loop, the task would have finished in its first step).
    assert not drawing.done()
    await drawing


async def test_no_days_is_an_empty_chart_not_an_error() -> None:
    picture = await MatplotlibUsageChart().draw([], "t", "tokens", "Stars")
    assert picture.data.startswith(b"\x89PNG")
