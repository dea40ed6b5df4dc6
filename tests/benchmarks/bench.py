"""Benchmarks: ``make bench`` (or ``python -m tests.benchmarks.bench``) prints a table.

Figures, not pass/fail tests: they depend on the machine. Each line says what was measured and
the target the project set for it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import attrs

from adapters.models.offline.chat import OfflineModel
from adapters.storage.files import write_atomically
from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.json.format import serialize
from adapters.storage.sqlite.threads import SqliteThreads
from core.budget import Entry, Posting
from core.config import BotConfig
from core.ports import AccountStore, ChatModel, ThreadStore
from core.service import BotService
from core.threads import Thread, build_thread
from core.tokens import CharTokenCounter, prompt_tokens
from core.values import (
    Account,
    Chunk,
    Hold,
    Incoming,
    ModelRequest,
    Node,
    Offer,
    Picture,
    Role,
    Sender,
    Usage,
)
from entrypoints.bootstrap import assemble
from entrypoints.startup import settle_collector
from tests.benchmarks.tokens import token_rows

ROOT = Path(__file__).resolve().parents[2]


@attrs.define
class NullSink:
    """A messenger that sends instantly and shows nothing."""

    next_id: int = 10**9
    shown: bool = True

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        self.next_id += 1
        return (str(self.next_id),)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        return await self.send(chat_id, caption, reply_to)

    def stream(self, chat_id: str, reply_to: str | None) -> NullSink:
        return self

    async def update(self, text: str) -> None:
        return None

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        return await self.send("0", text)

    async def typing(self, chat_id: str) -> None:
        return None


class RewriteEveryTime(JsonAccounts):
    """The older bots' way: the whole data.json rewritten (atomically, at least) per change."""

    async def register(self, account: Account) -> Account:
        stored = self._contents.accounts.setdefault(account.user_id, account)
        write_atomically(self.path, serialize(self._contents))
        return stored

    async def settle(
        self, user_id: str, entry: Entry, release: Hold | None = None
    ) -> Posting | None:
        current = self._contents.accounts.get(user_id)
        if current is None:
            return None
        posting = entry.post(current)
        self._contents.accounts[user_id] = posting.account
        self._contents.totals = self._contents.totals.plus(posting.counted)
        if release is not None:
            await self.release(release)
        write_atomically(self.path, serialize(self._contents))
        return posting


@attrs.define
class SlowModel:
    """A model that thinks for ``seconds`` and then answers in one chunk."""

    seconds: float
    counter: CharTokenCounter = attrs.field(factory=CharTokenCounter)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        await asyncio.sleep(self.seconds)
        yield Chunk(text="Thought about it.")
        yield Chunk(usage=Usage(prompt_tokens(self.counter, request.turns), 5))

    async def close(self) -> None:
        return None


def make_data_file(path: Path, users: int) -> None:
    """A data.json with ``users`` accounts in the seed format."""
    entries: dict[str, dict[str, object]] = {"global": {"requests": 0, "tokens": 0}}
    for n in range(users):
        entries[str(10_000 + n)] = {
            "requests": 3,
            "tokens": 900,
            "balance": 29_100,
            "name": f"User {n}",
            "username": f"@user{n}",
            "lastdate": "01.01.2021 00:00:00",
        }
    path.write_text(json.dumps(entries))


def bot(accounts: AccountStore, threads: ThreadStore, model: ChatModel | None = None) -> BotService:
    counter = CharTokenCounter()
    return assemble(
        BotConfig(admin_id="1", notify_new_users=False, footer=True),
        sink=NullSink(),
        accounts=accounts,
        threads=threads,
        model=model or OfflineModel(counter),
        counter=counter,
    ).service


async def _drive(
    service: BotService, chats: int, per_chat: int, users: int, first_id: int = 10_000
) -> float:
    """Messages per second: ``chats`` conversations at once, each ``per_chat`` messages long,
    from users whose ids start at ``first_id``."""

    async def conversation(chat: int) -> None:
        sender = Sender(str(first_id + (chat * 7919) % users), f"User {chat}")
        for n in range(per_chat):
            message_id = str(chat * 1_000_000 + n)
            incoming = Incoming(sender.id, message_id, sender, f"message {n} in chat {chat}")
            await service.handle(incoming)

    start = time.perf_counter()
    await asyncio.gather(*(conversation(c) for c in range(chats)))
    return chats * per_chat / (time.perf_counter() - start)


async def throughput(folder: Path, users: int, messages: int, old_way: bool) -> float:
    path = folder / f"data-{users}-{old_way}.json"
    make_data_file(path, users)
    accounts = (RewriteEveryTime if old_way else JsonAccounts).open(path)
    threads = SqliteThreads.open(folder / f"threads-{users}-{old_way}.db")
    chats = 100
    rate = await _drive(bot(accounts, threads), chats, max(1, messages // chats), users)
    await accounts.close()
    await threads.close()
    return rate


def postgres_throughput(sizes: Sequence[int], messages: int) -> list[tuple[str, str, str]]:
    """The same throughput through the whole core on the PostgreSQL stores (fsync on, every
    charge committed before its final message), beside data.json's; empty without PostgreSQL."""
    try:
        from adapters.storage.postgres.accounts import PostgresAccountStore
        from adapters.storage.postgres.threads import PostgresThreadStore
        from tests.adapters.storage.postgres.cluster import Cluster, binaries
        from tests.benchmarks.postgres_bench import create_database, seed
    except ImportError:
        return [("PostgreSQL", "skipped", "pip install -e '.[postgres]'")]
    if binaries() is None:
        return [("PostgreSQL", "skipped", "no PostgreSQL server programs here")]

    async def run(url: str, users: int) -> float:
        await seed(url, users)
        accounts = await PostgresAccountStore.open(url)
        threads = await PostgresThreadStore.open(url)
        try:
            service = bot(accounts, threads)
            return await _drive(service, 100, max(1, messages // 100), users, first_id=0)
        finally:
            await accounts.close()
            await threads.close()

    rows = []
    cluster = Cluster.start(durable=True)
    try:
        for users in sizes:
            rate = asyncio.run(run(create_database(cluster, f"core_{users}"), users))
            rows.append(
                (
                    f"throughput on PostgreSQL, {users:,} users, 100 chats",
                    f"{rate:,.0f} msg/s",
                    ">= 1,000 msg/s at 1,000,000 users",
                )
            )
    finally:
        cluster.stop()
    return rows


async def concurrency(folder: Path, conversations: int) -> float:
    store = JsonAccounts.open(folder / "data-concurrency.json")
    threads = SqliteThreads.open(folder / "threads-concurrency.db")
    service = bot(store, threads, SlowModel(1.0))
    start = time.perf_counter()
    await asyncio.gather(
        *(
            service.handle(Incoming(str(n), "1", Sender(str(n), f"User {n}"), "hello"))
            for n in range(1, conversations + 1)
        )
    )
    elapsed = time.perf_counter() - start
    await store.close()
    await threads.close()
    return elapsed


_STARTUP = """
import sys, time
start = time.perf_counter()
from entrypoints import startup
with startup.collector_paused():  # as ``gptbot telegram`` starts
    env = {"OPENAI_API_KEY": "sk-bench", "DATA_FILE": sys.argv[1], "THREADS_FILE": sys.argv[2]}
    preload = startup.preloaded(env)  # data.json parsed meanwhile, as ``gptbot telegram`` does
    import asyncio
    from pathlib import Path
    import entrypoints.telegram  # Telethon and the Telegram adapter
    from entrypoints.bootstrap import build_bot
    from entrypoints.settings import settings_from

    class NoMessenger:
        async def send(self, chat_id, text, reply_to=None):
            return ("1",)

    # The bot the Telegram entrypoint builds once logged in: stores loaded, models, media
    # and the chart made, with an API key (so the OpenAI SDK is loaded).
    settings = settings_from(env)
    bot = asyncio.run(build_bot(settings, admin_id="1", sink=NoMessenger(), preload=preload))
ready = time.perf_counter() - start
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the (large) parent across exec.
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(ready, peak, asyncio.run(bot.accounts.count()))
"""


_SNAPSHOT = """
import asyncio, sys, time
from pathlib import Path
from adapters.storage.json.accounts import JsonAccounts

def peak():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024

store = JsonAccounts.open(Path(sys.argv[1]))
loaded = peak()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak starts again from what is resident now

async def snapshot():
    await store.change(sys.argv[2], lambda account: account)  # one journal record to fold
    start = time.perf_counter()
    await store.close()  # rewrites data.json
    return time.perf_counter() - start

took = asyncio.run(snapshot())
print(loaded, peak(), took)
"""


def snapshot_memory(folder: Path, users: int) -> tuple[float, float, float]:
    """Peak RSS (MB) once loaded, peak RSS while data.json is rewritten, and the rewrite's
    seconds, with ``users`` accounts."""
    path = folder / "data-snapshot.json"
    make_data_file(path, users)
    result = subprocess.run(
        [sys.executable, "-c", _SNAPSHOT, str(path), "10000"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    loaded, during, took = (float(x) for x in result.stdout.split())
    return loaded, during, took


def startup(folder: Path, users: int, nodes: int) -> tuple[float, float, float]:
    """Seconds from process start to stores loaded, the same with imports, and peak RSS (MB),
    with ``users`` accounts in data.json and ``nodes`` in the reply-chain database."""
    path = folder / "data-startup.json"
    make_data_file(path, users)
    threads = folder / "threads-startup.db"
    asyncio.run(fill_threads(threads, nodes, depth=10))
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP, str(path), str(threads)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    total = time.perf_counter() - began
    ready, rss, loaded = (float(x) for x in result.stdout.split())
    assert int(loaded) == users
    return ready, total, rss


async def fill_threads(path: Path, nodes: int, depth: int) -> None:
    """A reply-chain database of ``nodes`` nodes in chains ``depth`` deep, chat -1, -2, ..."""
    store = SqliteThreads.open(path, retention=nodes)
    batch: list[Node] = []
    for chain in range(nodes // depth):
        for n in range(1, depth + 1):
            role = Role.USER if n % 2 else Role.ASSISTANT
            parent = str(n - 1) if n > 1 else None
            batch.append(Node(str(-chain - 1), str(n), role, f"turn {n} of chain {chain}", parent))
        if len(batch) >= 10_000:
            await store.add(batch)
            batch = []
    await store.add(batch)
    await store.close()


async def thread_walk(folder: Path, nodes: int, depth: int) -> float:
    """Median milliseconds to build a request for a ``depth``-deep chain among ``nodes`` nodes,
    the database just opened (nothing cached but what the walks read)."""
    path = folder / "threads-walk.db"
    await fill_threads(path, nodes, depth)
    store = SqliteThreads.open(path, retention=nodes)
    chains = nodes // depth
    counter = CharTokenCounter()
    times = []
    for attempt in range(50):
        start = time.perf_counter()
        thread = await build_thread(
            store=store,
            lookup=None,
            counter=counter,
            chat_id=str(-(attempt % chains) - 1),
            reply_to=str(depth),
            system_prompt="You are a helpful assistant",
            text="and now?",
            budget=10**9,
        )
        times.append(time.perf_counter() - start)
        assert isinstance(thread, Thread)
        assert len(thread.turns) == depth + 2
    await store.close()
    return statistics.median(times) * 1000


async def overhead(folder: Path, turns: int) -> tuple[float, float]:
    """Median ms of one turn through the console bot and the OpenAI adapter, and of the same
    request made directly with the SDK, against a local OpenAI-compatible server (LLMock)."""
    import openai
    from llmock.testing import LLMockServer

    from adapters.messengers.console.session import ConsoleSink, numbering
    from entrypoints.bootstrap import build_bot
    from entrypoints.settings import settings_from

    with LLMockServer() as server:
        base_url = server.base_url("openai")
        settings = settings_from(
            {
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_BASE_URL": base_url,
                "MODEL_CONTEXT_WINDOW": "128000",  # as OpenAI's; a proxy reports no window
                "ADMIN_CHAT_ID": "1",
            },
            folder,
        )
        assert settings.openai_reasoning_effort == "none"  # as the direct request below says
        sink = ConsoleSink(io.StringIO(), numbering())
        bot = await build_bot(settings, admin_id="1", sink=sink)
        client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
        sender = Sender("100", "Bench")
        ours: list[float] = []
        direct: list[float] = []
        for n in range(turns):
            start = time.perf_counter()
            await bot.service.handle(Incoming("100", str(2 * n + 1), sender, "hello"))
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            stream = await client.chat.completions.create(  # the request the bot makes
                model=settings.openai_model,
                messages=[
                    {"role": "system", "content": "You are a helpful assistant"},
                    {"role": "user", "content": "hello"},
                ],
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=3_000,
                reasoning_effort="none",
            )
            async for _ in stream:
                pass
            direct.append(time.perf_counter() - start)
        await client.close()
        await bot.close()
    return statistics.median(ours) * 1000, statistics.median(direct) * 1000


async def fault_soak(folder: Path, messages: int) -> str:
    from llmock.pytest_plugin import LLMock
    from llmock.testing import LLMockServer

    from tests.e2e.test_soak import soak, verify

    folder.mkdir()
    with LLMockServer() as server:
        result = await soak(LLMock(server).reset(), folder, messages)
    verify(folder, result)  # raises if any account or total went astray
    return (
        f"{result.answered:,} answered, {result.refused:,} refused free, "
        f"{sum(result.faults.values())} faults, {result.seconds:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the fault soak's failures are expected
    settle_collector()  # the collector as a bot process has it once started
    big = 10_000 if args.quick else 100_000
    messages = 2_000 if args.quick else 10_000
    old_messages = 100 if args.quick else 300
    print(
        f"gptbot benchmarks, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    rows: list[tuple[str, str, str]] = []
    # On the project's own disk, not a RAM-backed /tmp, so fsync costs what it really costs.
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as tmp:
        folder = Path(tmp)
        for users in (1_000, big):
            ours = asyncio.run(throughput(folder, users, messages, old_way=False))
            old = asyncio.run(throughput(folder, users, old_messages, old_way=True))
            rows.append(
                (
                    f"throughput, {users:,} users, 100 chats",
                    f"{ours:,.0f} msg/s",
                    ">= 1,000 msg/s at 100,000 users",
                )
            )
            rows.append(
                (
                    f"  older bots' way (rewrite per message), {users:,} users",
                    f"{old:,.0f} msg/s",
                    f"ours is {ours / old:,.1f}x",
                )
            )
        pg_sizes = (10_000,) if args.quick else (100_000, 1_000_000)
        rows.extend(postgres_throughput(pg_sizes, messages))
        conversations = 1_000
        wall = asyncio.run(concurrency(folder, conversations))
        rows.append(
            (f"{conversations:,} conversations, model takes 1 s", f"{wall:.2f} s wall", "<= 1.15 s")
        )
        ours_ms, direct_ms = asyncio.run(overhead(folder, 30 if args.quick else 200))
        rows.append(
            ("one turn: console bot + OpenAI adapter, local server", f"{ours_ms:.2f} ms", "")
        )
        rows.append(("  the same request with the SDK alone", f"{direct_ms:.2f} ms", ""))
        rows.append(("  added by the bot", f"{ours_ms - direct_ms:.2f} ms", "<= 5 ms"))
        ready, total, rss = startup(folder, big, big)
        rows.append(
            (
                f"start-up, {big:,} users and {big:,} nodes: bot's imports, stores loaded",
                f"{ready:.2f} s",
                "<= 1.2 s",
            )
        )
        rows.append(("  whole process, interpreter included", f"{total:.2f} s", ""))
        rows.append((f"peak RSS with {big:,} users", f"{rss:.0f} MB", "<= 150 MB"))
        loaded, during, took = snapshot_memory(folder, big)
        rows.append(
            (f"peak RSS rewriting data.json, {big:,} users", f"{during:.0f} MB", "<= 150 MB")
        )
        rows.append((f"  (loaded: {loaded:.0f} MB); the rewrite took", f"{took:.2f} s", ""))
        nodes = 100_000 if args.quick else 1_000_000
        walk = asyncio.run(thread_walk(folder, nodes, 1_000))
        rows.append(
            (f"request for a 1,000-deep chain, {nodes:,} nodes", f"{walk:.2f} ms", "<= 3 ms")
        )
        soaked = 400 if args.quick else 3_000
        outcome = asyncio.run(fault_soak(folder / "soak", soaked))
        rows.append((f"fault soak, {soaked:,} messages, 1 in 10 fails", "consistent", outcome))
        rows.extend(token_rows(args.quick))
    rows += __import__("tests.benchmarks.telegram_flood", fromlist=["rows"]).rows(args.quick)
    rows += __import__("tests.benchmarks.telegram_rich", fromlist=["rows"]).rows(args.quick)
    rows += __import__("tests.benchmarks.postgres_bench", fromlist=["rows"]).rows(args.quick)
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
