"""Ports for the servers the tests start and address later (PostgreSQL, Synapse).

Such a server is given its port before it binds it (initdb comes first, or the configuration
file), so the port is checked free and then left unbound for a moment. A port the OS picked
(bind to port 0) comes from the ephemeral range, which every process's outgoing connections
draw from too: one of them, from any test or any program on a busy machine, may take it in
that moment. The ports here lie below the ephemeral range, where the OS never hands out a port
by itself, and each pytest-xdist worker draws from its own share, so no two workers of a run
pick the same one.
"""

from __future__ import annotations

import os
import random
import socket

_LOWEST = 10_000
_draw = random.Random()  # not the global generator, which some tests seed


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _os_pick() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_port() -> int:
    """A port of 127.0.0.1 free now, outside the ephemeral range where the machine has room
    below it (otherwise one the OS picks), in this xdist worker's share."""
    below = _ephemeral_low()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), index + 1)
    share = (below - _LOWEST) // workers
    if share < 100:
        return _os_pick()
    low = _LOWEST + index * share
    for _ in range(1000):
        port = _draw.randrange(low, low + share)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return _os_pick()
