"""Every end-to-end test runs a whole bot (subprocesses, servers, real files): all are ``slow``,
left out of ``make check-fast`` and run by ``make check``. A module added here is slow without
having to say so."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
