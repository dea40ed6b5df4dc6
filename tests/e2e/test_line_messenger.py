"""The core in a third messenger (examples/line_messenger.py), driven end to end through
real TCP sockets on 127.0.0.1: the console's scenarios, with ids that look nothing like
Telegram's ("u:alice", "room:lobby", "m-<uuid hex>") and the messenger's own addressing rule."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator, Callable

import attrs
import pytest

from adapters.models.offline.chat import OfflineModel
from core.config import BotConfig
from core.ports import ChatModel
from core.tokens import CharTokenCounter
from core.values import Chunk, ModelRequest
from examples.line_messenger import LineBot, start_line_bot

ADMIN = "u:root"
TIMEOUT = 10.0  # seconds to wait for a line before the test fails (never reached when it passes)
MESSAGE_ID = re.compile(r"m-[0-9a-f]{32}")


@attrs.frozen
class Line:
    """One line from the server: MSG / DRAFT with their fields, or another verb and its text."""

    verb: str
    text: str
    id: str = ""
    chat: str = ""
    sender: str = ""
    reply_to: str | None = None


def parse(raw: bytes) -> Line:
    verb, _, rest = raw.decode().rstrip("\n").partition(" ")
    if verb not in {"MSG", "DRAFT"}:
        return Line(verb, rest)
    message_id, chat, sender, reply_to, text = rest.split(" ", 4)
    text = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)
    return Line(verb, text, message_id, chat, sender, None if reply_to == "-" else reply_to)


@attrs.define
class Client:
    """A person at a TCP connection: what they send, and every line they received."""

    name: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    log: list[Line] = attrs.field(factory=list)  # everything received, drafts included
    unread: list[Line] = attrs.field(factory=list)  # received, not yet taken by a test

    async def send(self, line: str) -> None:
        self.writer.write((line + "\n").encode())
        await self.writer.drain()

    async def say(self, text: str, reply_to: str | None = None) -> Line:
        """Send a message; its echo, which carries the id the messenger gave it."""
        await self.send(f"REPLY {reply_to} {text}" if reply_to else f"SAY {text}")
        mine = "u:" + self.name
        return await self.next(lambda line: line.verb == "MSG" and line.sender == mine)

    async def answer(self, to: Line | None = None) -> Line:
        """The bot's next complete message (in a room: the one replying to ``to``)."""
        return await self.next(
            lambda line: (
                line.verb == "MSG"
                and line.sender == "bot"
                and (to is None or line.reply_to == to.id)
            )
        )

    async def next(self, wanted: Callable[[Line], bool]) -> Line:
        while True:
            for n, line in enumerate(self.unread):
                if wanted(line):
                    return self.unread.pop(n)
            raw = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
            if not raw:
                raise EOFError(f"{self.name}: the server closed the connection")
            line = parse(raw)
            self.log.append(line)
            if line.verb != "DRAFT":
                self.unread.append(line)

    async def ask(self, text: str, reply_to: str | None = None) -> Line:
        """Say something and wait for the bot's answer to it."""
        said = await self.say(text, reply_to)
        return await self.answer(None if said.chat.startswith("dm:") else said)


@attrs.define
class SlowModel:
    """The offline model, after ``delay`` seconds or once ``gate`` opens. ``events`` tells when
    each request reached the model ("start") and when its answer was all produced ("end")."""

    delay: float = 0.0
    gate: asyncio.Event | None = None
    events: list[str] = attrs.field(factory=list)
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)  # a request reached the model
    inner: OfflineModel = attrs.field(factory=lambda: OfflineModel(CharTokenCounter()))

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.events.append("start")
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        async for chunk in self.inner.stream(request):
            yield chunk
        self.events.append("end")

    async def close(self) -> None:
        return None


@attrs.define
class Net:
    """Starts bots and connects people; closes everything at the end of the test."""

    bots: list[LineBot] = attrs.field(factory=list)
    clients: list[Client] = attrs.field(factory=list)
    bot: LineBot | None = None

    async def start(self, model: ChatModel | None = None, **config: object) -> LineBot:
        settings: dict[str, object] = {"admin_id": ADMIN, "notify_new_users": False, **config}
        config_ = BotConfig(**settings)  # type: ignore[arg-type]
        self.bot = await start_line_bot(config_, model or OfflineModel(CharTokenCounter()))
        self.bots.append(self.bot)
        return self.bot

    async def connect(self, name: str, room: str | None = None) -> Client:
        assert self.bot is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", self.bot.port)
        client = Client(name, reader, writer)
        self.clients.append(client)
        await client.send(f"HELLO {name}")
        if room is not None:
            await client.send(f"JOIN {room}")
        return client

    async def close(self) -> None:
        for client in self.clients:
            client.writer.close()
        for bot in self.bots:
            await bot.shut()


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    net = Net()
    yield net
    await net.close()


def number(pattern: str, text: str) -> int:
    """The number after ``pattern`` in ``text``, read through its thin group spaces."""
    match = re.search(pattern + r"([\d ]+)", text)
    assert match is not None, f"{pattern!r} not in {text!r}"
    return int(match.group(1).replace(" ", ""))


# -- threads ---------------------------------------------------------------------------------


async def test_a_reply_continues_the_conversation_and_a_fresh_line_starts_anew(net: Net) -> None:
    await net.start()
    alice = await net.connect("alice")
    first = await alice.ask("first question")
    assert MESSAGE_ID.fullmatch(first.id)
    assert first.chat == "dm:alice"
    assert any(line.verb == "DRAFT" and line.id == first.id for line in alice.log)  # streamed
    second = await alice.ask("second question", reply_to=first.id)
    third = await alice.ask("third question", reply_to=second.id)
    assert "I received 5 turn(s): 4 earlier and your message." in third.text
    assert "Turn 1, user: «first question»" in third.text
    assert "Turn 3, user: «second question»" in third.text
    assert "You said: «third question»" in third.text
    fresh = await alice.ask("something else")
    assert "I received 1 turn(s): 0 earlier" in fresh.text
    unknown = await alice.ask("hello", reply_to="m-" + "0" * 32)
    assert "I received 1 turn(s)" in unknown.text


async def test_in_a_room_the_bot_answers_only_lines_meant_for_it(net: Net) -> None:
    await net.start()
    alice = await net.connect("alice", room="lobby")
    bob = await net.connect("bob", room="lobby")
    talk = await bob.say("just talking, nobody calls the bot")
    heard = await alice.next(lambda line: line.sender == "u:bob")
    assert (heard.chat, heard.text) == ("room:lobby", talk.text)  # a room is a chat
    called = await bob.say("Bot, now you")
    answer = await bob.answer(called)
    assert answer.chat == "room:lobby"
    assert "You said: «now you»" in answer.text  # the address is not part of the message
    assert (await alice.answer(called)).id == answer.id  # everyone in the room sees the bot
    command = await bob.say("/balance")
    reply = await bob.say("go on", reply_to=answer.id)
    not_to_bot = await bob.say("bot is a word here", reply_to=talk.id)
    last = await bob.say("bot, the last one")
    answers = [await bob.answer()]
    while answers[-1].reply_to != last.id:  # answered in order: the last line's answer is last
        answers.append(await bob.answer())
    assert [a.reply_to for a in answers] == [command.id, reply.id, last.id]
    assert "Your balance: " in answers[0].text
    assert "I received 3 turn(s): 2 earlier" in answers[1].text  # the reply continued the thread
    assert not_to_bot.id not in {a.reply_to for a in bob.log}


# -- charges ---------------------------------------------------------------------------------


async def test_the_balance_goes_down_by_the_footers_figure_and_the_admin_pays_nothing(
    net: Net,
) -> None:
    line_bot = await net.start()
    alice = await net.connect("alice")
    assert "Your balance: 30 000 tokens." in (await alice.ask("/balance")).text
    used = number("Tokens used: ≈?", (await alice.ask("hello")).text)
    used += number("Tokens used: ≈?", (await alice.ask("hello again")).text)
    assert used > 0
    assert number("Your balance: ", (await alice.ask("/balance")).text) == 30_000 - used
    account = await line_bot.accounts.get("u:alice")
    assert account is not None
    assert (account.balance, account.requests, account.tokens) == (30_000 - used, 2, used)
    root = await net.connect("root")
    await root.ask("hello as admin")
    assert "Your balance: 30 000 tokens" in (await root.ask("/balance")).text
    assert "alice (u:alice)" in (await root.ask("/topup u:alice 500")).text  # ids as typed
    assert number("Your balance: ", (await alice.ask("/balance")).text) == 30_500 - used


async def test_a_balance_too_small_is_refused_and_nothing_charged(net: Net) -> None:
    line_bot = await net.start(starting_balance=40)
    alice = await net.connect("alice")
    refusal = (await alice.ask("please write me a long story")).text
    assert "Not enough tokens" in refusal
    assert "Nothing was charged" in refusal
    assert "give them your id: u:alice" in refusal
    assert "Your balance: 40 tokens." in (await alice.ask("/balance")).text
    account = await line_bot.accounts.get("u:alice")
    assert account is not None
    assert (account.balance, account.requests) == (40, 0)


# -- own prompts -----------------------------------------------------------------------------


async def test_own_prompt_set_shown_reset_and_other_people_unaffected(net: Net) -> None:
    await net.start()
    alice = await net.connect("alice")
    bob = await net.connect("bob")
    marv = "You are Marv - a sarcastic reluctant assistant"
    assert "Your system prompt is set" in (await alice.ask(f"/prompt {marv}")).text
    assert f"System prompt: «{marv}»" in (await alice.ask("hello")).text
    assert f"Your system prompt:\n{marv}" in (await alice.ask("/prompt")).text
    assert "System prompt: «You are a helpful assistant" in (await bob.ask("hello")).text
    await alice.ask("/prompt reset")
    assert "System prompt: «You are a helpful assistant" in (await alice.ask("hello")).text


# -- concurrency and order -------------------------------------------------------------------


async def test_two_people_in_one_room_are_answered_at_the_same_time(net: Net) -> None:
    model = SlowModel(delay=1.0)
    await net.start(model)
    alice = await net.connect("alice", room="lobby")
    bob = await net.connect("bob", room="lobby")
    began = time.monotonic()
    from_alice = await alice.say("bot, question from alice")
    from_bob = await bob.say("bot, question from bob")
    to_alice, to_bob = await alice.answer(from_alice), await alice.answer(from_bob)
    took = time.monotonic() - began
    # Both requests reached the model before either answer was produced, so before any of it
    # was sent: they overlapped. One after the other would read start, end, start, end.
    assert model.events == ["start", "start", "end", "end"]
    assert "«question from alice»" in to_alice.text
    assert "«question from bob»" in to_bob.text
    print(f"two 1 s answers in one room arrived after {took:.2f} s")


async def test_one_persons_two_messages_are_answered_in_order(net: Net) -> None:
    model = SlowModel(delay=0.2)
    await net.start(model)
    alice = await net.connect("alice", room="lobby")
    first = await alice.say("bot, first")
    second = await alice.say("bot, second")
    answers = [await alice.answer(), await alice.answer()]
    assert [a.reply_to for a in answers] == [first.id, second.id]
    assert model.events == ["start", "end", "start", "end"]  # the second waited for the first


# -- the admin -------------------------------------------------------------------------------


async def test_admin_stop_finishes_answers_in_flight_and_turns_later_lines_away(
    net: Net,
) -> None:
    gate = asyncio.Event()
    model = SlowModel(gate=gate)
    line_bot = await net.start(model)
    running = asyncio.create_task(line_bot.run())
    alice, bob, root = [await net.connect(name) for name in ("alice", "bob", "root")]
    assert "Only the bot's admin can stop it." in (await bob.ask("/stop")).text
    await alice.say("a question in flight")
    await asyncio.wait_for(model.arrived.wait(), TIMEOUT)
    assert "Stopping" in (await root.ask("/stop")).text
    later = (await bob.ask("hello?")).text
    assert "shutting down" in later
    assert "Nothing was charged" in later
    assert not running.done()  # still finishing alice's answer
    gate.set()
    answer = (await alice.answer()).text
    assert "You said: «a question in flight»" in answer
    used = number("Tokens used: ≈?", answer)
    await asyncio.wait_for(running, TIMEOUT)
    with pytest.raises(EOFError):  # served to the end, then closed
        await alice.next(lambda line: False)
    account = await line_bot.accounts.get("u:alice")
    assert account is not None
    assert account.balance == 30_000 - used


async def user_transcript(net: Net) -> list[str]:
    """What two people see of an ordinary exchange, ids left out."""
    alice = await net.connect("alice")
    bob = await net.connect("bob", room="lobby")
    answers = [await alice.ask("hello"), await bob.ask("bot, hi")]
    answers += [await alice.ask("/balance"), await bob.ask("/balance")]
    return [answer.text for answer in answers]


async def test_an_unreachable_admin_changes_nothing_for_users(net: Net) -> None:
    reachable = await net.start(notify_new_users=True)
    root = await net.connect("root")
    seen = await user_transcript(net)
    await reachable.bot.service.notices.flush()
    notices = [(await root.answer()).text]
    assert "alice (u:alice)" in notices[0]
    assert reachable.bot.service.notices.dropped == 0

    unreachable = await net.start(notify_new_users=True)  # the admin never connects to this one
    assert await user_transcript(net) == seen
    await unreachable.bot.service.notices.flush()
    assert unreachable.bot.service.notices.dropped >= 1  # the core tried, and went on


async def test_an_answer_nobody_is_left_to_receive_costs_nothing(net: Net) -> None:
    gate = asyncio.Event()
    model = SlowModel(gate=gate)
    line_bot = await net.start(model)
    alice = await net.connect("alice")
    await alice.say("a question, then I leave")
    await asyncio.wait_for(model.arrived.wait(), TIMEOUT)
    connections = [client.task for client in line_bot.messenger.clients if client.task]
    alice.writer.close()
    await asyncio.wait_for(asyncio.gather(*connections), TIMEOUT)  # the server saw her go
    assert not line_bot.messenger.clients
    gate.set()
    await line_bot.bot.service.drain()
    account = await line_bot.accounts.get("u:alice")
    assert account is not None
    assert (account.balance, account.requests) == (30_000, 0)
    assert await line_bot.accounts.held("u:alice") == 0


# -- bad lines -------------------------------------------------------------------------------


async def test_a_line_it_cannot_use_gets_a_plain_error_and_the_connection_goes_on(
    net: Net,
) -> None:
    line_bot = await net.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", line_bot.port)
    client = Client("carol", reader, writer)
    net.clients.append(client)
    errors: list[str] = []
    for line in ("SAY hi", "HELLO Carol!", "HELLO carol", "SHOUT hi", "REPLY m-1", "JOIN a b"):
        await client.send(line)
        if line != "HELLO carol":
            errors.append((await client.next(lambda got: got.verb == "ERR")).text)
    assert errors == [
        "say HELLO <name> first",
        "HELLO <name>: 1 to 32 of a-z, 0-9 and _",
        "unknown command: HELLO, JOIN, SAY or REPLY",
        "REPLY <message id> <text>",
        "JOIN <room>: 1 to 32 of a-z, 0-9 and _; or JOIN dm",
    ]
    answer = await client.ask("two\\nlines")
    assert "You said: «two lines»" in answer.text  # the offline model quotes on one line
    assert "\n" in answer.text  # the answer's own line breaks came through escaped and back


async def test_a_line_too_long_is_refused_in_words_before_hanging_up(net: Net) -> None:
    await net.start()
    carol = await net.connect("carol")
    await carol.send("SAY " + "x" * 70_000)
    refusal = await carol.next(lambda line: line.verb == "ERR")
    assert refusal.text == "a line is at most 64 KiB; goodbye"
    with pytest.raises(EOFError):
        await carol.next(lambda line: False)


# -- the example as a program ----------------------------------------------------------------


async def test_the_example_runs_as_a_program_and_the_admin_stops_it() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.line_messenger", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        port = int(banner.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        you = Client("you", reader, writer)
        await you.send("HELLO you")
        answer = await you.ask("hello")
        assert "You said: «hello»" in answer.text
        admin = Client("admin", *await asyncio.open_connection("127.0.0.1", port))
        await admin.send("HELLO admin")
        await admin.say("/stop")
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
