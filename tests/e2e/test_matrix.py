"""The Matrix bot end to end: the real ``entrypoints.matrix.serve`` against a real Synapse on
127.0.0.1, people played by matrix-nio clients, the offline model, data.json in a folder of the
test's own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import nio
import pytest

from entrypoints.matrix import matrix_login, serve
from entrypoints.settings import settings_from
from tests.servers.synapse import Synapse, synapse_python

TIMEOUT = 60.0  # seconds to wait for an event before the test fails (never reached when it passes)

pytestmark = pytest.mark.skipif(
    synapse_python() is None and not os.environ.get("GPTBOT_REQUIRE_MATRIX"),
    reason="Synapse is not installed (.ci/run makes .synapse-venv)",
)


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = Synapse.start(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        server.stop()


@attrs.define
class Person:
    """Someone at a Matrix client: sends, and reads every message event of their rooms."""

    client: nio.AsyncClient
    events: list[dict[str, Any]] = attrs.field(factory=list)
    since: str | None = None

    @property
    def id(self) -> str:
        return str(self.client.user_id)

    async def sync(self) -> None:
        answer = await self.client.sync(timeout=1_000, since=self.since)
        assert isinstance(answer, nio.SyncResponse), answer
        self.since = answer.next_batch
        for room_id in answer.rooms.invite:
            await self.client.join(room_id)
        for room_id, joined in answer.rooms.join.items():
            for event in joined.timeline.events:
                if event.source.get("type") == "m.room.message":
                    self.events.append({**event.source, "room_id": room_id})

    async def wait_for(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async def look() -> dict[str, Any]:
            while True:
                found = next((e for e in self.events if wanted(e)), None)
                if found is not None:
                    return found
                await self.sync()

        return await asyncio.wait_for(look(), TIMEOUT)

    async def say(self, room_id: str, text: str, **content: Any) -> str:
        answer = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": text, **content}
        )
        assert isinstance(answer, nio.RoomSendResponse), answer
        return str(answer.event_id)

    async def final_answer(self, room_id: str, to: str) -> tuple[str, dict[str, Any]]:
        """The bot's answer replying to event ``to`` once finished (its footer shown): the
        answer's event id and its last content."""
        bot = f"@bot:{self.id.split(':', 1)[1]}"
        first = await self.wait_for(
            lambda e: (
                e["sender"] == bot
                and e["room_id"] == room_id
                and e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                == to
            )
        )
        answer_id = first["event_id"]

        def finished(event: dict[str, Any]) -> bool:
            content = event["content"]
            edited = content.get("m.relates_to", {}).get("event_id") == answer_id
            last = content.get("m.new_content", content)
            return (event["event_id"] == answer_id or edited) and "Tokens used" in last["body"]

        final = await self.wait_for(finished)
        return answer_id, final["content"].get("m.new_content", final["content"])


def tokens_used(body: str) -> int:
    """The charge a footer shows, read through its thin group spaces."""
    found = re.search(r"Tokens used: ≈?([\d\u202f\u00a0 ]+)", body)
    assert found is not None, body
    return int(re.sub(r"\D", "", found.group(1)))


async def joined(someone: Person, room_id: str, count: int) -> None:
    """Wait until ``room_id`` has ``count`` members joined."""

    async def look() -> None:
        while True:
            members = await someone.client.joined_members(room_id)
            if isinstance(members, nio.JoinedMembersResponse) and len(members.members) == count:
                return
            await asyncio.sleep(0.1)

    await asyncio.wait_for(look(), TIMEOUT)


async def person(synapse: Synapse, name: str) -> Person:
    token = synapse.register(name)
    client = nio.AsyncClient(synapse.url, f"@{name}:localhost")
    client.restore_login(f"@{name}:localhost", "", token)
    someone = Person(client)
    await someone.sync()
    return someone


@attrs.define
class Running:
    task: asyncio.Task[int]
    folder: Path

    def balance(self, user: str) -> int:
        """The balance saved in data.json (the journal folded in by a clean stop)."""
        data = json.loads((self.folder / "data.json").read_text())
        return int(data[user]["balance"])


@pytest.fixture(scope="module")
def bot_token(synapse: Synapse) -> str:
    return synapse.register("bot")


@pytest.fixture
async def bot(
    bot_token: str, synapse: Synapse, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[int]] = []

    async def start(admin: str, **more: str) -> Running:
        env = {
            "DATA_FILE": str(tmp_path / "data.json"),
            "OFFLINE_MODEL_DELAY": "0.05",
            "MATRIX_HOMESERVER": synapse.url,
            "MATRIX_USER_ID": "@bot:localhost",
            "MATRIX_ACCESS_TOKEN": bot_token,
            "MATRIX_ADMIN": admin,
            "MATRIX_EDIT_INTERVAL": "0",
            "NOTIFY_ADMIN_NEW_USERS": "false",
            **more,
        }
        settings = settings_from(env, base=tmp_path)
        task = asyncio.create_task(
            serve(settings, matrix_login(env, tmp_path), handle_signals=False)
        )
        tasks.append(task)
        return Running(task, tmp_path)

    yield start
    for task in tasks:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_direct_room_answers_streams_by_edits_continues_by_reply_and_stops(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    alice = await person(synapse, "alice")
    admin = await person(synapse, "root")
    running = await bot(admin.id)
    made = await alice.client.room_create(is_direct=True, invite=["@bot:localhost"])
    assert isinstance(made, nio.RoomCreateResponse)
    room = made.room_id
    await joined(alice, room, 2)  # the bot joins on the invite
    asked = await alice.say(room, "hello")
    answer_id, final = await alice.final_answer(room, asked)
    assert "You said: «hello»" in final["body"]
    assert final.get("format") == "org.matrix.custom.html"
    assert "<p>" in final["formatted_body"]
    edits = [
        e
        for e in alice.events
        if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
        and e["content"]["m.relates_to"]["event_id"] == answer_id
    ]
    assert edits, "the answer was shown as it grew, by edits"
    charged = tokens_used(final["body"])
    # A reply to the answer continues the conversation.
    again = await alice.say(
        room, "and again", **{"m.relates_to": {"m.in_reply_to": {"event_id": answer_id}}}
    )
    _, second = await alice.final_answer(room, again)
    assert "3 turn(s)" in second["body"]
    second_charge = tokens_used(second["body"])
    # The admin stops it; what was charged is what was saved.
    dm = await admin.client.room_create(is_direct=True, invite=["@bot:localhost"])
    assert isinstance(dm, nio.RoomCreateResponse)
    await joined(admin, dm.room_id, 2)
    await admin.say(dm.room_id, "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    assert running.balance("@alice:localhost") == 30_000 - charged - second_charge
    for someone in (alice, admin):
        await someone.client.close()


def replying_to(event_id: str) -> Callable[[dict[str, Any]], bool]:
    def wanted(event: dict[str, Any]) -> bool:
        relates = event["content"].get("m.relates_to", {})
        return bool(relates.get("m.in_reply_to", {}).get("event_id") == event_id)

    return wanted


async def test_a_group_room_answers_mentions_replies_and_known_commands_only(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    ann, ben = await person(synapse, "ann"), await person(synapse, "ben")
    running = await bot("@ann:localhost")
    made = await ann.client.room_create(invite=["@bot:localhost", ben.id])
    assert isinstance(made, nio.RoomCreateResponse)
    room = made.room_id
    await ben.sync()  # ben accepts the invite
    await joined(ann, room, 3)
    chatting = await ben.say(room, "just chatting about the weather")
    other_bot = await ben.say(room, "/weather tomorrow")
    mention = await ann.say(
        room, "bot: what is this?", **{"m.mentions": {"user_ids": ["@bot:localhost"]}}
    )
    answer_id, final = await ann.final_answer(room, mention)
    assert "You said: «what is this?»" in final["body"]
    followed = await ben.say(
        room, "tell me more", **{"m.relates_to": {"m.in_reply_to": {"event_id": answer_id}}}
    )
    _, more = await ben.final_answer(room, followed)
    assert "3 turn(s)" in more["body"]  # ben continued ann's conversation by replying to it
    balance = await ben.say(room, "!balance")
    shown = await ben.wait_for(replying_to(balance))
    left = int(re.sub(r"\D", "", shown["content"]["body"]))
    assert left == 30_000 - tokens_used(more["body"])  # ben paid what his footer showed
    for ignored in (chatting, other_bot):
        assert not [e for e in ann.events + ben.events if replying_to(ignored)(e)]
    await ann.say(room, "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    # Started again: a reply to an answer from before the restart is still for the bot (the
    # homeserver says who sent it) and continues that conversation (the store has it).
    running = await bot("@ann:localhost")
    later = await ann.say(
        room, "one more", **{"m.relates_to": {"m.in_reply_to": {"event_id": answer_id}}}
    )
    _, again = await ann.final_answer(room, later)
    assert "3 turn(s)" in again["body"]
    await ann.say(room, "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    for someone in (ann, ben):
        await someone.client.close()


async def test_an_encrypted_room_is_told_plainly_that_the_bot_cannot_read_it(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    eve = await person(synapse, "eve")
    await bot("@eve:localhost")
    encryption = {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
    made = await eve.client.room_create(
        is_direct=True, invite=["@bot:localhost"], initial_state=[encryption]
    )
    assert isinstance(made, nio.RoomCreateResponse)
    await joined(eve, made.room_id, 2)
    sent = await eve.client.room_send(
        made.room_id,
        "m.room.encrypted",
        {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA", "sender_key": "x",
         "session_id": "y", "device_id": "EVE"},
    )  # fmt: skip
    assert isinstance(sent, nio.RoomSendResponse)
    told = await eve.wait_for(lambda e: e["sender"] == "@bot:localhost")
    assert "cannot read end-to-end encrypted rooms" in told["content"]["body"]
    await eve.client.close()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A homeserver that lets a user send a burst of 3 messages, then one every 2 s."""
    server = Synapse.start(tmp_path_factory.mktemp("limited"), rate_limited=True)
    try:
        yield server
    finally:
        server.stop()


async def test_a_rate_limited_homeserver_still_gets_the_whole_answer(
    limited: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every piece of the answer would be an edit (MATRIX_EDIT_INTERVAL=0): the homeserver
    refuses most with M_LIMIT_EXCEEDED; interim edits are dropped, the final one waits for
    the time the server asks and arrives with the footer."""
    caplog.set_level(logging.INFO, logger="adapters.messengers.matrix.sink")
    token = limited.register("bot")
    zoe = await person(limited, "zoe")
    env = {
        "DATA_FILE": str(tmp_path / "data.json"),
        "OFFLINE_MODEL_DELAY": "0.05",
        "MATRIX_HOMESERVER": limited.url,
        "MATRIX_USER_ID": "@bot:localhost",
        "MATRIX_ACCESS_TOKEN": token,
        "MATRIX_ADMIN": zoe.id,
        "MATRIX_EDIT_INTERVAL": "0",
        "NOTIFY_ADMIN_NEW_USERS": "false",
    }
    task = asyncio.create_task(
        serve(settings_from(env, base=tmp_path), matrix_login(env, tmp_path), handle_signals=False)
    )
    try:
        made = await zoe.client.room_create(is_direct=True, invite=["@bot:localhost"])
        assert isinstance(made, nio.RoomCreateResponse)
        await joined(zoe, made.room_id, 2)
        asked = await zoe.say(made.room_id, "hello")
        _, final = await zoe.final_answer(made.room_id, asked)
        assert "You said: «hello»" in final["body"]
        assert "is rate-limited" in caplog.text  # the homeserver did refuse, and was waited for
        sent = await zoe.say(made.room_id, "/stop")  # zoe is the admin
        assert sent
        assert await asyncio.wait_for(task, TIMEOUT) == 0
    finally:
        if not task.done():
            task.cancel()
        await zoe.client.close()
