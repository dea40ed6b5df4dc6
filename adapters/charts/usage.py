"""The operator's /usage chart with matplotlib: tokens per day as bars, Stars as a line on a
second axis, a PNG. matplotlib draws with the Agg backend (no display) in a worker thread, so
the event loop goes on serving messages meanwhile; one chart is drawn at a time (pyplot's state
is global, and the figure is built without it)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence

from core.values import DayUsage, Picture

_DRAWING = threading.Lock()


class MatplotlibUsageChart:
    """``core.ports.UsageChart``."""

    async def draw(self, days: Sequence[DayUsage], title: str, tokens: str, stars: str) -> Picture:
        data = await asyncio.to_thread(render, list(days), title, tokens, stars)
        return Picture(data, "image/png")


def render(days: Sequence[DayUsage], title: str, tokens: str, stars: str) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global figure manager

    with _DRAWING:
        figure = Figure(figsize=(9, 4.5), dpi=100)
        axes = figure.add_subplot()
        labels = [day.day.strftime("%d.%m") for day in days]
        axes.bar(labels, [day.tokens for day in days], color="#4C78A8", label=tokens)
        axes.set_ylabel(tokens)
        axes.set_title(title)
        axes.tick_params(axis="x", labelrotation=90, labelsize=8)
        second = axes.twinx()
        second.plot(labels, [day.stars for day in days], color="#F2A900", marker="o", label=stars)
        second.set_ylabel(stars)
        second.set_ylim(bottom=0)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
