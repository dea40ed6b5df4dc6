"""The console bot on PostgreSQL while the server goes away and comes back, under load: shared
by the outage test (a short outage) and ``tests/benchmarks/postgres_outage.py`` (any length).

Several users send messages in rounds (``&``: without waiting), a round once the last one is
answered. After a few rounds the server is killed or stopped, and started again after the
outage; the rounds go on throughout. What is read back is what a person would see: every
message's outcome in the console's output, and the money in the database.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs
import psycopg

from entrypoints.console import run_console
from entrypoints.settings import settings_from
from tests.adapters.storage.postgres.cluster import Cluster

USERS = ("101", "102", "103", "104")
START = 30_000  # the starting balance
_BLOCK = re.compile(r"^\[\d+\] ", re.MULTILINE)
_TO_USER = re.compile(r"^\[\d+\] bot → user (\d+): ")
_TAG = re.compile(r"You said: «hello (r\d+ u\d+)»")
_CHARGED = re.compile(r"Tokens used: ≈?([\d  ,]+)")


@attrs.frozen
class Outcome:
    """What one user's message came to, as printed."""

    user: str
    tag: str | None  # the message answered (None: not an answer, e.g. "could not save")
    charged: int | None  # tokens charged; None: not charged
    not_charged: bool  # marked "Not charged"
    text: str

    @property
    def answer(self) -> bool:
        return "Offline model:" in self.text

    @property
    def complete(self) -> bool:
        """Printed to its end: an answer once it says what it was charged, or that it was
        not; anything else at once."""
        return not self.answer or self.charged is not None or self.not_charged


def outcomes(output: str) -> list[Outcome]:
    """Every message the bot printed to one of USERS, in order."""
    starts = [m.start() for m in _BLOCK.finditer(output)] + [len(output)]
    found = []
    for start, end in itertools.pairwise(starts):
        block = output[start:end]
        to = _TO_USER.match(block)
        if to is None or to.group(1) not in USERS:
            continue
        tag = _TAG.search(block)
        charged = _CHARGED.search(block)
        found.append(
            Outcome(
                to.group(1),
                tag.group(1) if tag else None,
                int(re.sub(r"\D", "", charged.group(1))) if charged else None,
                "Not charged" in block,
                block,
            )
        )
    return found


@attrs.define
class Report:
    rounds: int = 0  # rounds sent
    outage_at: float = 0.0  # when the server went away (time.monotonic)
    back_at: float = 0.0  # when it was started again
    answering_at: float = 0.0  # when a round sent after that was all answered and charged
    holds_clear_at: float = 0.0  # when no hold was left after that
    outcomes: list[Outcome] = attrs.field(factory=list)
    output: str = ""

    def summary(self) -> str:
        charged = sum(1 for o in self.outcomes if o.charged is not None)
        unpaid = sum(1 for o in self.outcomes if o.answer and o.not_charged)
        refused = sum(1 for o in self.outcomes if not o.answer)
        return (
            f"{len(self.outcomes)} messages in {self.rounds} rounds of {len(USERS)}: "
            f"{charged} answered and charged, {unpaid} answered marked not charged, "
            f"{refused} not answered (could not save); answering again "
            f"{self.answering_at - self.back_at:.1f} s after the server was back, no hold "
            f"left {self.holds_clear_at - self.back_at:.1f} s after"
        )


Outage = Callable[[Cluster], Coroutine[Any, Any, None]]


def kill(seconds: float = 0.0) -> Outage:
    """SIGKILL the postmaster, start it again ``seconds`` later."""

    async def outage(cluster: Cluster) -> None:
        await asyncio.to_thread(cluster.kill_server)
        await asyncio.sleep(seconds)  # the outage itself, not a wait for something
        await asyncio.to_thread(cluster.start_server)

    return outage


def fast_stop(seconds: float = 0.0) -> Outage:
    """``pg_ctl stop -m fast``, start again ``seconds`` later."""

    async def outage(cluster: Cluster) -> None:
        await asyncio.to_thread(cluster.stop_server, "fast")
        await asyncio.sleep(seconds)
        await asyncio.to_thread(cluster.start_server)

    return outage


async def run(
    cluster: Cluster,
    url: str,
    outage: Outage,
    folder: Path,
    *,
    rounds_before: int = 3,
    patience: float = 180.0,
    wait: float = 10.0,
    delay: float = 0.02,
) -> Report:
    """The console on ``url`` under load through ``outage``; what it showed and when. Raises
    TimeoutError when a round is not answered, or no hold is cleared, within ``patience``
    seconds of what it waits for (the console fell silent). ``wait``: DATABASE_WAIT;
    ``delay``: the offline model's between words (answers are in flight when it happens)."""
    settings = settings_from(
        {
            "DATABASE_URL": url,
            "DATABASE_WAIT": f"{wait:g}",
            "OFFLINE_MODEL_DELAY": f"{delay:g}",
            "ADMIN_CHAT_ID": "1",
        },
        folder,
    )
    read, write = os.pipe()
    stdin = os.fdopen(read, "r")
    typed = os.fdopen(write, "w", buffering=1)
    out = io.StringIO()
    console = asyncio.create_task(run_console(settings, stdin, out))
    report = Report()
    sent: dict[str, int] = dict.fromkeys(USERS, 0)

    def send_round() -> None:
        report.rounds += 1
        for user in USERS:
            typed.write(f":user {user}\n& hello r{report.rounds} u{user}\n")
            sent[user] += 1

    async def round_answered() -> list[Outcome]:
        """The outcomes of the round sent last, once each of its messages has one."""
        deadline = time.monotonic() + patience
        while True:
            if console.done():
                raise RuntimeError(f"the console stopped: {console.result()}")
            found = outcomes(out.getvalue())
            per_user = {u: [o for o in found if o.user == u] for u in USERS}
            if any(len(per_user[u]) > sent[u] for u in USERS):
                # An answer left unfinished, then an error for the same message.
                raise AssertionError(f"two outcomes for one message:\n{out.getvalue()[-3000:]}")
            if all(len(per_user[u]) >= sent[u] for u in USERS):
                last = [per_user[u][sent[u] - 1] for u in USERS]
                if all(o.complete for o in last):
                    return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"round {report.rounds} unanswered:\n{out.getvalue()[-3000:]}")
            await asyncio.sleep(0.05)

    away: asyncio.Task[None] | None = None
    try:
        for _ in range(rounds_before):
            send_round()
            await round_answered()
        # The server goes away while answers are in flight: once one of them shows.
        send_round()
        tag = re.compile(r"^\[\d+\] bot → user \d+: Offline model", re.MULTILINE)
        deadline = time.monotonic() + patience
        while len(tag.findall(out.getvalue())) <= rounds_before * len(USERS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer started:\n{out.getvalue()[-3000:]}")
            await asyncio.sleep(0.005)
        report.outage_at = time.monotonic()
        away = asyncio.create_task(outage(cluster))
        while not away.done():
            await round_answered()
            send_round()
        await away
        report.back_at = time.monotonic()
        # Answering again: a round sent after the server returned, all of it charged.
        while True:
            await round_answered()
            send_round()
            last = await round_answered()
            if all(o.charged is not None for o in last):
                report.answering_at = time.monotonic()
                break
        deadline = time.monotonic() + patience
        while await _holds(url):
            if time.monotonic() > deadline:
                raise TimeoutError(f"holds left: {await _holds(url)}")
            await asyncio.sleep(0.1)
        report.holds_clear_at = time.monotonic()
        typed.write(":wait\n:quit\n")
        typed.flush()
        status = await asyncio.wait_for(console, patience)
        assert status == 0, out.getvalue()[-3000:]
    finally:
        if away is not None:  # a failure mid-outage: the server is back before the cleanup
            await asyncio.gather(away, return_exceptions=True)
        typed.close()
        if not console.done():
            console.cancel()
            await asyncio.gather(console, return_exceptions=True)
        stdin.close()
    report.output = out.getvalue()
    report.outcomes = outcomes(report.output)
    return report


async def _holds(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as connection:
        cursor = await connection.execute("SELECT count(*) FROM holds")
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def stored(url: str) -> dict[str, tuple[int, int, int]]:
    """Each user's (balance, requests, tokens) in the database."""
    async with await psycopg.AsyncConnection.connect(url) as connection:
        cursor = await connection.execute(
            "SELECT id, balance, requests, tokens FROM accounts WHERE id = ANY(%s)", (list(USERS),)
        )
        return {row[0]: (row[1], row[2], row[3]) for row in await cursor.fetchall()}
