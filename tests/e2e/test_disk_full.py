"""A disk that fills and empties at random under load, and SIGKILLs at random moments.

The data folder is a 300 KB tmpfs; a thread of the test fills it to within a few KB and frees it
again while the store charges users concurrently (``disk_full_driver``), with a snapshot every
five records. After each kill a fresh start must succeed, on a full disk too, and show:
every acknowledged charge, no charge reported as failed, and totals that add up.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import attrs
import pytest

from tests.small_disk import fill, small_disk

pytestmark = pytest.mark.slow  # kills and a full disk, in subprocesses

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20
MAX_RUNS = 200  # a hang guard: a loaded machine needs more runs, not hundreds
SEED = 20_261_125


@attrs.define
class Outcomes:
    """What one run printed before it was killed."""

    started: bool = False
    user: dict[int, str] = attrs.field(factory=dict)
    amount: dict[int, int] = attrs.field(factory=dict)
    ok: set[int] = attrs.field(factory=set)
    failed: set[int] = attrs.field(factory=set)
    unknown: set[int] = attrs.field(factory=set)

    @classmethod
    def parse(cls, output: str) -> Outcomes:
        result = cls()
        for line in output.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # cut by the kill
            word, *rest = line.split()
            if word == "started":
                result.started = True
            elif word == "start":
                op, user, amount = rest
                result.user[int(op)] = user
                result.amount[int(op)] = int(amount)
            else:
                {"ok": result.ok, "failed": result.failed, "unknown": result.unknown}[word].add(
                    int(rest[0])
                )
        return result

    def unsettled(self) -> set[int]:
        return set(self.user) - self.ok - self.failed - self.unknown


def driver(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tests.e2e.disk_full_driver", str(folder), *args]


def dump(folder: Path) -> dict[str, list[object]]:
    """The accounts as a fresh start finds them; the start must not be refused."""
    result = subprocess.run(
        driver(folder, "dump"), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"a start was refused: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    accounts = data["accounts"]
    assert data["totals"] == [
        sum(a[0] for a in accounts.values()),
        sum(a[1] for a in accounts.values()),
    ], "the totals do not add up"
    return accounts  # type: ignore[no-any-return]


def check(before: dict[str, list[object]], after: dict[str, list[object]], run: Outcomes) -> None:
    for user, (requests, tokens, balance, prompt) in after.items():
        old = before.get(user, [0, 0, 10**9, None])
        ops = {op for op, who in run.user.items() if who == user}
        ok, maybe = ops & run.ok, ops & run.unsettled()
        new_requests = int(requests) - int(old[0])  # type: ignore[call-overload]
        new_tokens = int(tokens) - int(old[1])  # type: ignore[call-overload]
        where = f"user {user}"
        assert len(ok) <= new_requests <= len(ok) + len(maybe), where
        least = sum(run.amount[op] for op in ok)
        assert least <= new_tokens <= least + sum(run.amount[op] for op in maybe), where
        assert int(balance) == 10**9 - int(tokens), where  # type: ignore[call-overload]
        if new_requests:
            last = int(str(prompt).split()[1])
            assert last in ok | maybe, f"{where}: charge {last} was reported failed"
            assert last >= max(ok, default=0), f"{where}: acknowledged charges lost"
        else:
            assert prompt == old[3], where


class Weather(threading.Thread):
    """Fills the disk to within a few KB and frees it again, at random moments."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.folder, self.rng, self.stop = folder, rng, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(0.02, 0.15)):
            filler = self.folder / "filler"
            if filler.exists():
                filler.unlink()
            elif self.rng.random() < 0.7:
                fill(self.folder, self.rng.choice([0, 2_000, 8_000, 20_000]))


def test_a_full_disk_and_kills_lose_no_acknowledged_charge(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    with small_disk(tmp_path / "disk", "300k") as disk:
        before = dump(disk)
        totals: Counter[str] = Counter()
        number = 0
        # At least RUNS runs, and more until the test has seen what it is about: a run's length
        # is timed, and on a loaded machine the driver starts later and charges less in it.
        while number < RUNS or not seen_enough(totals):
            number += 1
            assert number <= MAX_RUNS, f"{MAX_RUNS} runs and still not enough seen: {totals}"
            weather = Weather(disk, random.Random(rng.random()))
            weather.start()
            # Killed after a random number of the driver's lines, not a random time: a busy
            # machine changes how long a run takes, not what it has done when killed. Its log
            # goes to a file, so that a full pipe never stops it mid-line.
            with (tmp_path / f"run-{number}.err").open("w+b") as log:
                process = subprocess.Popen(
                    driver(disk, str(number)), cwd=ROOT, stdout=subprocess.PIPE, stderr=log
                )
                assert process.stdout is not None
                read = [process.stdout.readline() for _ in range(rng.randint(1, 400))]
                process.kill()
                # The rest through the same buffered reader: communicate() would read the pipe
                # beneath it and lose what readline() had buffered.
                out = b"".join(read) + process.stdout.read()
                process.wait(timeout=30)
                log.seek(0)
                err = log.read()
            weather.stop.set()
            weather.join()
            run = Outcomes.parse(out.decode())
            assert process.returncode == -9, f"run {number} ended by itself: {err.decode()}"
            assert b"Traceback" not in err, err.decode()
            if rng.random() < 0.5 and (disk / "filler").exists():
                (disk / "filler").unlink()  # sometimes the next start has space, sometimes not
            after = dump(disk)
            check(before, after, run)
            before = after
            totals.update(ok=len(run.ok), failed=len(run.failed), unsettled=len(run.unsettled()))
            totals.update(started=run.started)
        assert seen_enough(totals), totals


def seen_enough(totals: Counter[str]) -> bool:
    """Not a check of the store, of the test: it must have seen what it is about."""
    return totals["ok"] >= 200 and totals["failed"] >= 20 and totals["started"] >= RUNS // 2
