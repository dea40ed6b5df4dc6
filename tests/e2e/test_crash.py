"""The console bot killed with SIGKILL at random moments and restarted with no help each time.

An answer shows its cost (``Tokens used: N``) only once the charge is in the fsynced journal, so
every footer the killed process managed to print is a promise the next start has to keep. The
test reads the bot's output as it comes, so it knows exactly what was printed before each kill,
and checks the files the next start recovers against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import attrs
import pytest

from adapters.messengers.console.session import ConsoleSink, numbering
from adapters.storage.json.accounts import JsonAccounts
from adapters.storage.sqlite.threads import SqliteThreads

ROOT = Path(__file__).resolve().parents[2]

SEED = 20_240_611
KILLS = 24
ADMIN = 1
START = 20_000  # small enough that the busiest users run out and get refused along the way
REPLY_CAP = 300
CONTEXT = 500
# The most one request can be charged: its hold, the prompt plus the reply cap.
MAX_CHARGE = CONTEXT + REPLY_CAP
GROUP = 7  # the console turns it into chat -7, like Telegram's negative group ids
USERS = {100: "You", 200: "Bea", 300: "Cy", 400: "Dee", ADMIN: "Boss"}
PROMPTS = ("Be terse", "Answer like a pirate", "Reply in one line")
STARTUP_TIMEOUT = 60.0  # a hang guard: a loaded machine may take seconds to start Python
# Runs with data.json rewritten mid-run (the journal folded into it) the test must see; a run
# goes on until it has seen one, for at most FOLD_TIMEOUT (a hang, not a slow machine).
FOLDS = 2
FOLD_TIMEOUT = 300.0
RETENTION = 20

ENV = {
    "PYTHONPATH": str(ROOT),
    "PATH": "/usr/bin:/bin",
    "OFFLINE_MODEL_DELAY": "0.001",
    "ADMIN_CHAT_ID": str(ADMIN),
    "STARTING_BALANCE": str(START),
    "REPLY_TOKEN_LIMIT": str(REPLY_CAP),
    "CONTEXT_TOKEN_LIMIT": str(CONTEXT),
    # Small, so that the reply-chain file is compacted (rewritten) often, also under the kills.
    "THREAD_RETENTION": str(RETENTION),
    # The store logs each rewrite of data.json: the test counts those that came mid-run.
    "LOG_LEVEL": "INFO",
}


# -- reading what the bot printed ---------------------------------------------------------------

_HEADER = re.compile(r"\[(\d+)\] ")
_BOT = re.compile(r"bot → (?:user (?P<user>\d+)|group (?P<group>-\d+))(?: ↪ (?P<reply>\d+))?: ")
_ECHO = re.compile(
    r"(?P<name>[^\n]+?) \((?P<user>-?\d+)\)(?: in group -\d+)?(?: ↪ \d+)?: (?P<text>[^\n]*)\n"
)
# The offline model reports no usage: its footers are estimates ("≈88 (estimated: ...)").
_FOOTER = re.compile(r"\n\nTokens used: ≈?(\d[\d ]*)(?: \(estimated[^\n]*\))?\n")
FOOTER_BYTES = b"\n\nTokens used: "
_REFUSALS = ("Not enough tokens", "Your message is too long")


@attrs.define
class Transcript:
    """What one run printed, attributed to the users it was for."""

    asked: Counter[int] = attrs.field(factory=Counter)  # requests the bot took in
    answered: Counter[int] = attrs.field(factory=Counter)  # answers with a footer printed
    charged: Counter[int] = attrs.field(factory=Counter)  # the sum of those footers
    refused: Counter[int] = attrs.field(factory=Counter)
    answers: list[tuple[int, int]] = attrs.field(factory=list)  # (chat, message id)

    def unsettled(self, user: int) -> int:
        """Requests taken in with no visible outcome: the kill may or may not have charged them."""
        return self.asked[user] - self.answered[user] - self.refused[user]

    def users(self) -> set[int]:
        return set(self.asked) | set(self.answered)


def parse(output: str) -> Transcript:
    """Attribute every footer in ``output`` to the user it was printed for.

    Only one answer streams live at a time, and the console holds everything else until it is
    finished (``test_console_never_interleaves_messages_mid_line``). The parse does not rely on
    that: should anything land in the middle of the live answer, its footer comes after the
    next header, so a footer that is not the first of an answer's own segment belongs to the
    answer streaming live. A footer count that is off fails the test either way. No text the
    test sends contains ``[``, so every ``[ID]`` in the output starts a message.
    """
    result = Transcript()
    senders: dict[int, int] = {}
    live: tuple[int, int, int] | None = None  # user, chat, message id

    def settle(user: int, chat: int, message_id: int, footer: re.Match[str]) -> None:
        result.answered[user] += 1
        result.charged[user] += int(footer.group(1).replace(" ", ""))
        result.answers.append((chat, message_id))

    headers = list(_HEADER.finditer(output))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(output)
        segment = output[header.end() : end]
        message_id = int(header.group(1))
        bot = _BOT.match(segment)
        if bot is not None:
            if bot["user"] is not None:
                chat = user = int(bot["user"])
            else:
                chat, user = int(bot["group"]), senders[int(bot["reply"])]
            body = segment[bot.end() :]
            extra = list(_FOOTER.finditer(body))
            if body.startswith("Offline model:"):
                if extra:
                    settle(user, chat, message_id, extra.pop(0))
                else:
                    assert live is None, f"two answers streamed live at once:\n{output}"
                    live = (user, chat, message_id)
            elif body.startswith(_REFUSALS):
                result.refused[user] += 1
        else:
            echo = _ECHO.match(segment)
            assert echo is not None, f"unexpected output at [{message_id}]: {segment[:200]!r}"
            senders[message_id] = int(echo["user"])
            if not echo["text"].startswith("/"):
                result.asked[int(echo["user"])] += 1
            extra = list(_FOOTER.finditer(segment, echo.end()))
        assert len(extra) <= 1, f"footers that belong to no answer after [{message_id}]"
        for footer in extra:
            assert live is not None, f"a footer with no answer streaming, after [{message_id}]"
            settle(*live, footer)
            live = None
    return result


class Pump:
    """Reads a pipe on a thread as the bytes come, so nothing printed before a kill is missed.

    It can also fire the kill itself the moment a given number of footers has arrived: that is
    when a charge must already be durable, so it is the sharpest moment to crash.
    """

    def __init__(self, pipe: IO[bytes], kill: Callable[[], None]) -> None:
        self._fd = pipe.fileno()
        self._kill = kill
        self._data = bytearray()
        self._lock = threading.Lock()
        self._kill_at_footers: int | None = None
        self.fired = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while chunk := os.read(self._fd, 65_536):
            with self._lock:
                self._data += chunk
                due = self._kill_at_footers
                if due is not None and self._data.count(FOOTER_BYTES) >= due:
                    self.fired = True
                    self._kill_at_footers = None
                    self._kill()

    def kill_after(self, footers: int) -> None:
        """Kill the bot as soon as ``footers`` more footers have been printed."""
        with self._lock:
            self._kill_at_footers = self._data.count(FOOTER_BYTES) + footers

    def disarm(self) -> bool:
        """Take the kill back; whether it was already sent."""
        with self._lock:
            self._kill_at_footers = None
            return self.fired

    def text(self) -> str:
        with self._lock:
            data = bytes(self._data)
        return data.decode("utf-8", "replace")  # a character cut in two at the end is harmless

    def wait_for(self, done: Callable[[str], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.text()):
                return True
            time.sleep(0.005)
        return done(self.text())

    def finish(self) -> str:
        """Everything, once the writer is gone (the pipe then ends)."""
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the bot's output did not end after it died"
        return self.text()


@attrs.define
class Bot:
    """One run of the console bot."""

    process: subprocess.Popen[bytes]
    out: Pump
    errors: Path

    @classmethod
    def start(cls, folder: Path, run: int) -> Bot:
        errors = folder / f"stderr-{run}.txt"
        with errors.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "entrypoints.console"],
                cwd=folder / "bot",
                env=ENV,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        assert process.stdout is not None
        return cls(process, Pump(process.stdout, process.kill), errors)

    def started(self) -> bool:
        return self.out.wait_for(lambda text: "Type :help" in text, STARTUP_TIMEOUT)

    def alive(self) -> bool:
        return not self.out.fired

    def send(self, lines: Iterable[str]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("".join(line + "\n" for line in lines).encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            assert self.out.fired, f"the bot exited by itself: {self.stderr()}"

    def kill(self) -> str:
        """SIGKILL, unless the reader already sent it; everything the bot printed."""
        if not self.out.disarm():
            assert self.process.poll() is None, f"the bot exited by itself: {self.stderr()}"
            self.process.kill()
        # -9 also proves that the bot had not exited by itself before the reader's kill.
        assert self.process.wait(timeout=10) == -signal.SIGKILL, self.stderr()
        output = self.out.finish()
        self._close_stdin()
        return output

    def quit(self) -> str:
        """Close standard input, which stops the bot properly."""
        self._close_stdin()
        assert self.process.wait(timeout=120) == 0, self.stderr()
        return self.out.finish()

    def _close_stdin(self) -> None:
        assert self.process.stdin is not None
        # The bot may have died with bytes still unread in the pipe.
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()

    def stderr(self) -> str:
        return self.errors.read_text(errors="replace")

    def folds(self) -> int:
        """How often data.json was rewritten while this run served (not at its start)."""
        log = self.stderr()
        loaded = log.find("loaded ")
        return 0 if loaded < 0 else log[loaded:].count("its journal is empty again")


# -- what the bot is told -----------------------------------------------------------------------


@attrs.define
class Script:
    """Random console input that follows what a run has shown so far."""

    rng: random.Random
    answers: list[tuple[int, int]]  # (chat, id) of answers seen, to reply to
    user: int = 100  # every start speaks as user 100 in their private chat
    group: bool = False
    count: int = 0

    def chat(self) -> int:
        return -GROUP if self.group else self.user

    def lines(self, how_many: int) -> list[str]:
        return [self.line() for _ in range(how_many)]

    def line(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            self.user = rng.choice(list(USERS))
            return f":user {self.user} {USERS[self.user]}"
        if roll < 0.22:
            self.group = not self.group
            return f":group {GROUP}" if self.group else ":private"
        if roll < 0.25:
            return ":wait"
        self.count += 1
        wait = "" if rng.random() < 0.4 else "& "
        if roll < 0.37:
            command = rng.choice(["/balance", "/stats", "/prompt reset", "/prompt"])
            if command == "/prompt":
                command += f" {rng.choice(PROMPTS)} {self.count}"
            return wait + command
        reply = self._reply_target()
        prefix = "" if reply is None else f">{reply} "
        return wait + prefix + self._mention(f"question {self.count} from {self.user}")

    def _mention(self, text: str) -> str:
        return f"@gptbot {text}" if self.group else text

    def _reply_target(self) -> int | None:
        rng = self.rng
        roll = rng.random()
        here = [message for chat, message in self.answers if chat == self.chat()]
        if roll < 0.55 and here:
            return rng.choice(here[-6:])  # recent answers make longer chains
        if roll < 0.65 and self.answers:
            return rng.choice(self.answers)[1]  # most likely another chat's message
        if roll < 0.7:
            return 900_000 + rng.randrange(1_000)  # a message that never existed
        return None


# -- what the files must say --------------------------------------------------------------------


@attrs.frozen
class Entry:
    requests: int
    tokens: int
    balance: int


def read_data(folder: Path) -> tuple[dict[int, Entry], Entry]:
    """Users and totals from data.json, read as plain JSON: the format is the contract."""
    document = json.loads((folder / "bot" / "data.json").read_text(encoding="utf-8"))
    users = {
        int(key): Entry(value["requests"], value["tokens"], value["balance"])
        for key, value in document.items()
        if key != "global"
    }
    totals = document["global"]
    return users, Entry(totals["requests"], totals["tokens"], 0)


@attrs.define
class Expectations:
    """What the data must show, from everything printed so far."""

    users: dict[int, Entry] = attrs.field(factory=dict)  # as last read from data.json
    answered: Counter[int] = attrs.field(factory=Counter)  # since that read
    charged: Counter[int] = attrs.field(factory=Counter)
    unsettled: Counter[int] = attrs.field(factory=Counter)
    ever_answered: Counter[int] = attrs.field(factory=Counter)  # over all runs
    ever_charged: Counter[int] = attrs.field(factory=Counter)
    ever_unsettled: Counter[int] = attrs.field(factory=Counter)

    def add(self, transcript: Transcript) -> None:
        for user in transcript.users():
            unsettled = transcript.unsettled(user)
            assert unsettled >= 0, f"user {user}: more outcomes than requests"
            for counter, value in (
                (self.answered, transcript.answered[user]),
                (self.charged, transcript.charged[user]),
                (self.unsettled, unsettled),
                (self.ever_answered, transcript.answered[user]),
                (self.ever_charged, transcript.charged[user]),
                (self.ever_unsettled, unsettled),
            ):
                counter[user] += value

    def check(self, users: dict[int, Entry], totals: Entry, when: str) -> None:
        """Compare the recovered data with the footers printed since it was last read."""
        for user, answers in self.ever_answered.items():
            assert answers == 0 or user in users, f"{when}: user {user} was lost"
        for user, entry in users.items():
            before = self.users.get(user, Entry(0, 0, START))
            where = f"{when}, user {user}"
            requests, tokens = entry.requests - before.requests, entry.tokens - before.tokens
            loose = self.unsettled[user]
            # Every printed footer is charged; what else was charged was in flight at a kill.
            assert self.answered[user] <= requests <= self.answered[user] + loose, where
            assert self.charged[user] <= tokens <= self.charged[user] + loose * MAX_CHARGE, where
            assert self.ever_charged[user] <= entry.tokens, where
            most = self.ever_charged[user] + self.ever_unsettled[user] * MAX_CHARGE
            assert entry.tokens <= most, where
            assert self.ever_answered[user] <= entry.requests, where
            if user == ADMIN:
                assert entry.balance == START, where
            else:
                assert entry.balance == START - entry.tokens, where
                assert entry.balance >= 0, where
        assert totals.requests == sum(e.requests for e in users.values()), when
        assert totals.tokens == sum(e.tokens for e in users.values()), when
        self.users = users
        self.answered, self.charged, self.unsettled = Counter(), Counter(), Counter()


def check_threads(folder: Path, when: str) -> None:
    """The reply-chain database opens as it is (never set aside) and keeps to its retention."""
    path = folder / "bot" / "data.threads.db"
    store = SqliteThreads.open(path, RETENTION)
    count = len(store)
    asyncio.run(store.close())
    assert not list(path.parent.glob("*.corrupt-*")), when
    assert count <= RETENTION + RETENTION // 10 + 1, when


# -- the test -----------------------------------------------------------------------------------


@pytest.mark.slow  # 24 SIGKILLs of the console bot
def test_sigkill_at_random_moments_never_loses_a_printed_charge(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    (tmp_path / "bot").mkdir()
    expected = Expectations()
    folds = 0  # data.json rewritten while the bot ran (the journal outgrew it), not at start
    answers: list[tuple[int, int]] = []
    for run in range(KILLS):
        bot = Bot.start(tmp_path, run)
        script = Script(rng, answers)
        if rng.random() < 0.2:
            # Kill anywhere from before the imports to the first answers: also in the middle of
            # replaying the journal and rewriting data.json.
            bot.send(script.lines(rng.randint(3, 8)))
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            assert bot.started(), f"run {run}: the bot did not start: {bot.stderr()}"
            users, totals = read_data(tmp_path)
            expected.check(users, totals, f"start of run {run}")
            kill_at = time.monotonic() + rng.uniform(0.02, 0.6)
            footers = rng.randint(1, 12) if rng.random() < 0.5 else 0
            # Until the test has seen its folds, a run goes on until data.json was rewritten
            # (the journal outgrew it), however long a loaded machine takes: forced, not timed.
            fold_by = time.monotonic() + FOLD_TIMEOUT if folds < FOLDS else None
            if footers and fold_by is None:
                bot.out.kill_after(footers)
                kill_at += 0.3  # a fallback, in case those footers never come
            while bot.alive():
                if fold_by is not None and bot.folds():
                    fold_by = None
                    if footers:
                        bot.out.kill_after(footers)
                        kill_at = max(kill_at, time.monotonic()) + 0.3
                left = kill_at - time.monotonic()
                if fold_by is not None:
                    assert time.monotonic() < fold_by, f"run {run}: no rewrite of data.json"
                    left = max(left, 0.05)
                if left <= 0:
                    break
                bot.send(script.lines(rng.randint(2, 7)))
                # The kill comes at its own moment, not only in the pauses between bursts.
                time.sleep(min(left, rng.uniform(0.0, 0.05)))
                script.answers = answers + parse_partial(bot.out.text()).answers
        output = bot.kill()
        transcript = parse(output)
        expected.add(transcript)
        answers += transcript.answers
        check_threads(tmp_path, f"after kill {run + 1}")
        folds += bot.folds()
        assert "Traceback" not in bot.stderr(), bot.stderr()

    # A last start must recover everything, and a proper stop leaves data.json complete.
    bot = Bot.start(tmp_path, KILLS)
    assert bot.started(), bot.stderr()
    users, totals = read_data(tmp_path)
    expected.check(users, totals, "after the last kill")
    bot.send(["hello after the kills", ":user 200 Bea", "/stats", ":wait"])
    expected.add(parse(bot.quit()))
    users, totals = read_data(tmp_path)
    expected.check(users, totals, "after a proper stop")
    assert (tmp_path / "bot" / "data.json.journal").stat().st_size == 0
    assert asyncio.run(stored_totals(tmp_path / "bot" / "data.json")) == (
        totals.requests,
        totals.tokens,
    )

    # Not a check of the bot, of the test: it must have seen the situations it is about.
    assert sum(expected.ever_answered.values()) >= 50, expected.ever_answered
    assert sum(expected.ever_unsettled.values()) > 0, "no kill ever caught a request in flight"
    # Forced above (the first runs go on until data.json is rewritten): a check of the test.
    assert folds >= FOLDS, f"data.json was rewritten mid-run only {folds} times"
    assert len(expected.ever_answered) >= 4, expected.ever_answered


async def stored_totals(path: Path) -> tuple[int, int]:
    """The totals as the account store itself reads them back."""
    store = JsonAccounts.open(path)
    totals = await store.totals()
    await store.close()
    return totals.requests, totals.tokens


def parse_partial(output: str) -> Transcript:
    """``parse`` on output still growing: the last message may be cut anywhere."""
    cut = output.rfind("\n")
    return parse(output[: cut + 1])


# -- the console's own output -------------------------------------------------------------------


async def test_console_never_interleaves_messages_mid_line() -> None:
    # It once did: an answer finishing while another streamed was printed inside its line.
    out = io.StringIO()
    sink = ConsoleSink(out, numbering())
    live = sink.stream("100", None)
    await live.update("first answer, streaming")
    other = sink.stream("200", None)
    await other.update("second answer")
    await other.finish("second answer")
    await live.finish("first answer, streaming and done")
    lines = out.getvalue().splitlines()
    assert all(line.startswith("[") for line in lines), lines
