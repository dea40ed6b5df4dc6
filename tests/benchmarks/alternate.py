"""Issue 20's figures for this tree and another version of the bot, run alternately.

On a shared machine whose speed changes by half within minutes, one run of each version says
little: this runs the figures (the 1 000-deep walk, start-up, 1 000 conversations, and
throughput with 100 000 users, which must not be lower) in one process per figure and version,
this tree first, then the other, ``--runs`` times, and prints each run and the medians.

    git worktree add ../gptbot-before e228980
    .venv/bin/python -m tests.benchmarks.alternate ../gptbot-before --runs 4

The other tree is run with this tree's interpreter and packages (its own modules first on the
path). Start-up is timed the same way for both: one script builds the bot as ``gptbot
telegram`` does and stops the clock when ``build_bot`` returns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in the tree being measured (its modules first on the path); prints one JSON object.
_FIGURE = """
import asyncio, contextlib, json, os, sys, tempfile, time
from pathlib import Path
from tests.benchmarks import bench
what, size = sys.argv[1], int(sys.argv[2])
try:
    from entrypoints import startup
    if not startup.__file__.startswith(os.getcwd()):  # this tree's installed copy, not its own
        raise ImportError(startup.__file__)
    startup.settle_collector()  # a started bot's collector, where the version has one
except ImportError:
    pass
with tempfile.TemporaryDirectory(dir=bench.ROOT, prefix=".bench-") as tmp:
    folder = Path(tmp)
    if what == "walk":
        result = asyncio.run(bench.thread_walk(folder, size * 1_000, 1_000))
    elif what == "throughput":
        result = asyncio.run(bench.throughput(folder, size, 10 * size // 100, False))
    else:
        result = asyncio.run(bench.concurrency(folder, size))
print(json.dumps(result))
"""

_START = """
import asyncio, contextlib, json, sys, time
start = time.perf_counter()
import os
try:
    from entrypoints import startup
    if not startup.__file__.startswith(os.getcwd()):  # this tree's installed copy, not its own
        raise ImportError(startup.__file__)
    paused = startup.collector_paused()
except ImportError:  # a version without it
    startup, paused = None, contextlib.nullcontext()
with paused:
    env = {"OPENAI_API_KEY": "sk-bench", "DATA_FILE": sys.argv[1], "THREADS_FILE": sys.argv[2]}
    extra = {}
    if hasattr(startup, "preloaded"):  # data.json parsed meanwhile, where the version can
        extra["preload"] = startup.preloaded(env)
    import entrypoints.telegram
    from entrypoints.bootstrap import build_bot
    from entrypoints.settings import settings_from

    class NoMessenger:
        async def send(self, chat_id, text, reply_to=None):
            return ("1",)

    bots = []

    async def built():
        settings = settings_from(env)
        bots.append(await build_bot(settings, admin_id="1", sink=NoMessenger(), **extra))
        return time.perf_counter() - start

    ready = asyncio.run(built())
print(json.dumps(ready))
"""


def _run(tree: Path, script: str, *args: str) -> float:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def _start_up(tree: Path, users: int, folder: Path) -> float:
    from tests.benchmarks.bench import make_data_file

    data = folder / "data.json"
    for stale in folder.iterdir():
        stale.unlink()
    make_data_file(data, users)  # afresh for each run: nothing left by the one before
    return _run(tree, _START, str(data), str(folder / "threads.db"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other version's tree (a git worktree)")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only",
        choices=("walk", "start-up", "conversations", "throughput"),
        help="just this figure",
    )
    args = parser.parse_args(argv)
    trees = {"this": ROOT, "other": args.other.resolve()}
    nodes, users, conversations = (10, 1_000, 50) if args.quick else (1_000, 100_000, 1_000)
    figures: dict[str, Callable[[Path, Path], float]] = {
        "walk (ms)": lambda tree, folder: _run(tree, _FIGURE, "walk", str(nodes)),
        "start-up (s)": lambda tree, folder: _start_up(tree, users, folder),
        "conversations (s)": lambda tree, folder: _run(
            tree, _FIGURE, "conversations", str(conversations)
        ),
        "throughput (msg/s)": lambda tree, folder: _run(tree, _FIGURE, "throughput", str(users)),
    }
    if args.only:
        figures = {name: f for name, f in figures.items() if name.startswith(args.only)}
    runs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as tmp:
        folder = Path(tmp)
        for run in range(args.runs):
            for name, tree in trees.items():
                line = []
                for figure, measure in figures.items():
                    value = measure(tree, folder)
                    runs.setdefault((figure, name), []).append(value)
                    line.append(f"{figure} {value:.3f}")
                print(f"run {run + 1} {name}: " + ", ".join(line), flush=True)
    for figure in figures:
        medians = [f"{name} {statistics.median(runs[(figure, name)]):.3f}" for name in trees]
        print(f"median {figure}: " + ", ".join(medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
