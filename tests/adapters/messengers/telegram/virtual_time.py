"""An event loop whose clock jumps: whenever nothing is ready to run, it moves straight to its
next timer instead of sleeping. ``asyncio.sleep(40)`` takes no real time, every timer fires in
order, and what the pacer measures (loop time) is exactly what the code asked for, whatever
the load of the machine.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_STUCK = 60.0  # real seconds with nothing to run and no timer: a hang, not a slow machine


class _Selector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0 if timeout is not None else _STUCK)
        if ready or timeout is None:
            if not ready:
                raise RuntimeError("the virtual-time loop has nothing to run and no timer")
            return ready
        # Nothing ready: jump to the next timer, by one step of the float at least (a timer
        # due in less than that would otherwise never come).
        self._loop.now = max(self._loop.now + timeout, math.nextafter(self._loop.now, math.inf))
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time, starting at 1000 s."""

    def __init__(self) -> None:
        self.now = 1000.0
        super().__init__(_Selector(self))

    def time(self) -> float:
        return self.now


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on a fresh virtual-time loop."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
