"""Shared test set-up: Hypothesis without deadlines, and LLMock, a real OpenAI-compatible
server on 127.0.0.1 for the adapter and end-to-end tests.

LLMock serves real HTTP from a thread of this process, so the SDK goes through its whole stack:
retries, timeouts, dropped connections and cut streams happen on a real socket. Its own pytest
plugin also offers an ``llmock`` fixture, but that one points the SDKs at the server through
OPENAI_* environment variables; these fixtures set none, so a test passes only if the adapter
is configured explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import Phase, settings
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

# Property tests check behaviour, not speed: a slow or busy CI machine must not fail them.
# The default profile is the gate (make check, CI): the same examples on every run, so a
# change passes or fails on its merits, never on the luck of the draw. "explore" draws fresh
# random cases, many more of them, to look for new failures:
#     HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/unit/test_properties.py
settings.register_profile("gptbot", deadline=None, database=None, derandomize=True)
settings.register_profile("explore", deadline=None, database=None, max_examples=5_000)
# "quick" runs the gate's examples without shrinking a failure: the first failing case, fast.
settings.register_profile(
    "quick",
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gptbot"))


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LLMockServer]:
    """One server for the session, on a port the OS picks."""
    with LLMockServer() as server:
        yield server


@pytest.fixture
def llm(llm_server: LLMockServer) -> LLMock:
    """The server with no scripted behaviour and an empty request journal."""
    return LLMock(llm_server).reset()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A skip whose reason says SKIPPED (PostgreSQL missing) is repeated loudly at the end.
    Read from the reports, not from the skipping fixture's memory: with pytest-xdist the
    fixture runs in a worker, whose own summary nobody sees."""
    reasons: dict[str, None] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3 and " SKIPPED" in longrepr[2]:
            reasons[longrepr[2].removeprefix("Skipped: ")] = None
    for reason in reasons:
        terminalreporter.write_sep("!", reason, red=True, bold=True)


@pytest.hookimpl(trylast=True)  # after tests/e2e/conftest.py has marked its tests slow
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On pytest-xdist workers, the slow tests first (otherwise in their order): a worker
    that draws a 20-second test near the end would keep the whole run waiting for it, while
    short tests queued behind the slow ones fill the other workers' gaps (worksteal)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
