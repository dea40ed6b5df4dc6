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
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import nio
import pytest

from adapters.messengers.matrix.media import MatrixMedia
from core.values import Attachment, MediaKind
from entrypoints.matrix import matrix_login, serve
from entrypoints.settings import settings_from
from tests.adapters.media_files import png_file, voice_note
from tests.servers.synapse import ROOT, Synapse, synapse_python

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

    async def upload(self, data: bytes, mime: str, name: str) -> str:
        """``data`` put in the homeserver's content repository; its ``mxc://`` URI."""
        uploaded, _ = await self.client.upload(
            lambda *_: data, content_type=mime, filename=name, filesize=len(data)
        )
        assert isinstance(uploaded, nio.UploadResponse), uploaded
        return str(uploaded.content_uri)

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        answer = await self.client.room_send(room_id, "m.room.message", content)
        assert isinstance(answer, nio.RoomSendResponse), answer
        return str(answer.event_id)

    async def final_answer(self, room_id: str, to: str) -> tuple[str, dict[str, Any]]:
        """The bot's answer replying to event ``to`` once finished (its footer shown): the
        answer's event id and its last content. Other replies to ``to`` (a transcript's
        quote) are passed over."""
        bot = f"@bot:{self.id.split(':', 1)[1]}"

        def replies(event: dict[str, Any]) -> bool:
            relates = event["content"].get("m.relates_to", {})
            return bool(
                event["sender"] == bot
                and event["room_id"] == room_id
                and relates.get("m.in_reply_to", {}).get("event_id") == to
            )

        def finished(event: dict[str, Any]) -> bool:
            content = event["content"]
            if "Tokens used" not in content.get("m.new_content", content).get("body", ""):
                return False
            edited = content.get("m.relates_to", {}).get("event_id")
            return replies(event) or any(
                e["event_id"] == edited and replies(e) for e in self.events
            )

        final = await self.wait_for(finished)
        content = final["content"]
        edited = content.get("m.relates_to", {}).get("event_id")
        answer_id = final["event_id"] if replies(final) else edited
        return str(answer_id), content.get("m.new_content", content)

    def shown(self, room_id: str, sender: str = "@bot:localhost") -> list[str]:
        """The last version of each message ``sender`` sent to ``room_id``, edits applied."""
        last: dict[str, str] = {}
        for event in self.events:
            if event["sender"] != sender or event["room_id"] != room_id:
                continue
            content = event["content"]
            relates = content.get("m.relates_to", {})
            if relates.get("rel_type") == "m.replace":
                last[relates["event_id"]] = content["m.new_content"]["body"]
            else:
                last.setdefault(event["event_id"], content.get("body", ""))
        return list(last.values())


_CHARGE = re.compile(r"(?:Tokens used: |\(\d+(?:\.\d)? s, )≈?(\d[\d\u202f\u00a0 ]*)")


def charges(bodies: list[str]) -> int:
    """The sum of every charge the bot showed: footers, transcripts, pictures."""
    return sum(int(re.sub(r"\D", "", m.group(1))) for b in bodies for m in _CHARGE.finditer(b))


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
        """The balance saved beside data.json, where Matrix accounts are kept (the journal
        folded in by a clean stop)."""
        data = json.loads((self.folder / "data.matrix.json").read_text())
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
        ready = asyncio.Event()
        task = asyncio.create_task(
            serve(settings, matrix_login(env, tmp_path), handle_signals=False, serving=ready.set)
        )
        tasks.append(task)
        # A message sent before the bot marked where it begins is not for it to answer.
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiting}, timeout=TIMEOUT, return_when="FIRST_COMPLETED")
        waiting.cancel()
        assert ready.is_set() or task.done(), "the bot did not start"
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


async def membership(someone: Person, room_id: str, user: str) -> str | None:
    state = await someone.client.room_get_state_event(room_id, "m.room.member", user)
    if isinstance(state, nio.RoomGetStateEventResponse):
        return str(state.content.get("membership"))
    return None


async def test_only_an_invite_from_someone_the_bot_serves_is_taken(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    friend = await person(synapse, "friend")
    stranger = await person(synapse, "stranger")
    await bot("@root:localhost", ALLOWED_USERS="@friend:localhost")
    refused = await stranger.client.room_create(is_direct=True, invite=["@bot:localhost"])
    assert isinstance(refused, nio.RoomCreateResponse)

    async def declined() -> None:
        while True:  # polling the homeserver: there is no event here to wait on
            if await membership(stranger, refused.room_id, "@bot:localhost") == "leave":
                return
            await asyncio.sleep(0.1)

    await asyncio.wait_for(declined(), TIMEOUT)  # the bot declined: it never joined
    taken = await friend.client.room_create(is_direct=True, invite=["@bot:localhost"])
    assert isinstance(taken, nio.RoomCreateResponse)
    await joined(friend, taken.room_id, 2)
    asked = await friend.say(taken.room_id, "hello")
    _, final = await friend.final_answer(taken.room_id, asked)
    assert "You said: «hello»" in final["body"]
    for someone in (friend, stranger):
        await someone.client.close()


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


async def direct_room(someone: Person) -> str:
    made = await someone.client.room_create(is_direct=True, invite=["@bot:localhost"])
    assert isinstance(made, nio.RoomCreateResponse)
    await joined(someone, made.room_id, 2)  # the bot joins on the invite
    return str(made.room_id)


async def test_a_voice_note_a_picture_a_file_and_image_are_taken_and_charged_as_saved(
    synapse: Synapse, bot: Callable[..., Any], tmp_path: Path
) -> None:
    """Media goes through the content repository both ways: a voice note is transcribed and
    answered, a picture is seen, a file too large is refused (told before any download when
    the event says its size, and by the download's cap when it lies), /image is answered with
    an uploaded picture; every charge shown is the charge saved."""
    vic, chief = await person(synapse, "vic"), await person(synapse, "chief")
    running = await bot(chief.id, MAX_DOCUMENT_BYTES="1000")
    room = await direct_room(vic)
    recording = voice_note(tmp_path, 2.0).read_bytes()
    voice_uri = await vic.upload(recording, "audio/ogg", "voice.ogg")
    spoken = await vic.send(
        room,
        {
            "msgtype": "m.audio",
            "body": "Voice message",
            "url": voice_uri,
            "info": {"mimetype": "audio/ogg", "size": len(recording), "duration": 2_000},
            "org.matrix.msc1767.audio": {"duration": 2_000},
            "org.matrix.msc3245.voice": {},
        },
    )
    quote = await vic.wait_for(lambda e: replying_to(spoken)(e) and "🎤" in e["content"]["body"])
    assert "offline transcriber: a 2.0 s recording" in quote["content"]["body"]
    _, heard = await vic.final_answer(room, spoken)
    assert "You said: «(offline transcriber" in heard["body"]

    picture = png_file(tmp_path / "red.png", "red", 64).read_bytes()
    picture_uri = await vic.upload(picture, "image/png", "red.png")
    shown = await vic.send(
        room,
        {
            "msgtype": "m.image",
            "body": "what is this?",
            "filename": "red.png",
            "url": picture_uri,
            "info": {"mimetype": "image/png", "size": len(picture), "w": 64, "h": 64},
        },
    )
    seen_id, seen = await vic.final_answer(room, shown)
    assert "You said: «what is this?»" in seen["body"]
    assert "With your message I received 1 picture(s): image/png 64×64" in seen["body"]
    # A reply to that answer: the picture is fetched again by its mxc:// URI for the thread.
    more = await vic.say(
        room, "and the colours?", **{"m.relates_to": {"m.in_reply_to": {"event_id": seen_id}}}
    )
    _, again = await vic.final_answer(room, more)
    assert "with 1 picture" in again["body"]

    notes = b"# notes\n" + b"x" * 5_000
    notes_uri = await vic.upload(notes, "text/plain", "notes.txt")
    for declared in (len(notes), 10):  # the truth, then a lie the download's cap catches
        big = await vic.send(
            room,
            {
                "msgtype": "m.file",
                "body": "notes.txt",
                "url": notes_uri,
                "info": {"mimetype": "text/plain", "size": declared},
            },
        )
        refused = await vic.wait_for(replying_to(big))
        assert "Your file is larger than 0.001 MB" in refused["content"]["body"]

    asked = await vic.say(room, "/image a red fox")
    made = await vic.wait_for(
        lambda e: replying_to(asked)(e) and e["content"].get("msgtype") == "m.image"
    )
    assert made["content"]["body"].startswith("a red fox\n\nTokens used: ")
    media = MatrixMedia(synapse.url, lambda: vic.client.access_token)
    try:
        fetched = await media.fetch(
            room, Attachment(MediaKind.IMAGE, made["content"]["url"]), 10**7
        )
    finally:
        await media.close()
    assert fetched.startswith(b"\x89PNG")
    assert made["content"]["info"] == {"mimetype": "image/png", "size": len(fetched)}

    await chief.say(await direct_room(chief), "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    spent = charges(vic.shown(room))
    assert spent > 0
    assert running.balance(vic.id) == 30_000 - spent
    for someone in (vic, chief):
        await someone.client.close()


async def test_a_bot_restarted_at_once_does_not_answer_again_what_it_answered(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    """Synapse gives a repeated first sync the answer it gave two minutes before: the bot
    restarted at once must still begin now, not where its previous start began (it would
    answer "hello" again, and take the earlier /stop again)."""
    kim = await person(synapse, "kim")
    running = await bot(kim.id)
    room = await direct_room(kim)
    hello = await kim.say(room, "hello")
    await kim.final_answer(room, hello)
    await kim.say(room, "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    running = await bot(kim.id)
    again = await kim.say(room, "hello again")
    await kim.final_answer(room, again)
    stop = await kim.say(room, "/stop")
    await kim.wait_for(replying_to(stop))
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    originals = [e for e in kim.events if replying_to(hello)(e)]
    assert len(originals) == 1, "hello was answered once"
    await kim.client.close()


async def test_a_message_the_store_lost_is_fetched_from_the_homeserver(
    synapse: Synapse, bot: Callable[..., Any], tmp_path: Path
) -> None:
    """The reply-chain database is gone (deleted between two runs): a reply to an earlier
    answer still continues that conversation, its messages fetched from the homeserver."""
    lou = await person(synapse, "lou")
    running = await bot(lou.id)
    room = await direct_room(lou)
    asked = await lou.say(room, "remember the word lantern")
    answer_id, _ = await lou.final_answer(room, asked)
    await lou.say(room, "/stop")
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    lost = list(tmp_path.glob("data.threads.db*"))
    assert lost
    for path in lost:
        path.unlink()
    await bot(lou.id)
    later = await lou.say(
        room, "which word?", **{"m.relates_to": {"m.in_reply_to": {"event_id": answer_id}}}
    )
    _, continued = await lou.final_answer(room, later)
    assert "3 turn(s)" in continued["body"]
    assert "remember the word lantern" in continued["body"]
    await lou.client.close()


async def test_stop_finishes_the_answer_in_flight_and_tells_a_later_message_so(
    synapse: Synapse, bot: Callable[..., Any]
) -> None:
    """/stop while an answer streams: the answer ends with its footer and is saved as
    charged; a message that comes meanwhile is told the bot is shutting down, and nothing
    is charged for it."""
    ida, root = await person(synapse, "ida"), await person(synapse, "boss")
    # Eight chunks a second apart: the answer is still streaming when the stop comes.
    running = await bot(root.id, OFFLINE_MODEL_DELAY="1")
    room, admin_room = await direct_room(ida), await direct_room(root)
    asked = await ida.say(room, "tell me something long")
    await ida.wait_for(replying_to(asked))  # its first words are shown
    stop = await root.say(admin_room, "/stop")
    await root.wait_for(replying_to(stop))  # "Stopping: finishing the answers in flight"
    late = await ida.say(room, "are you there?")
    farewell = await ida.wait_for(replying_to(late))
    assert "The bot is shutting down" in farewell["content"]["body"]
    _, final = await ida.final_answer(room, asked)
    assert "You said: «tell me something long»" in final["body"]
    assert await asyncio.wait_for(running.task, TIMEOUT) == 0
    assert running.balance(ida.id) == 30_000 - tokens_used(final["body"])
    for someone in (ida, root):
        await someone.client.close()


async def test_sigterm_finishes_the_answer_in_flight(
    synapse: Synapse, bot_token: str, tmp_path: Path
) -> None:
    """The real ``python -m entrypoints.matrix`` process, stopped by SIGTERM mid-answer: the
    answer ends, the process exits 0, and data.json holds what the footer showed."""
    sam = await person(synapse, "sam")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATA_FILE": str(tmp_path / "data.json"),
        "OFFLINE_MODEL_DELAY": "1",
        "MATRIX_HOMESERVER": synapse.url,
        "MATRIX_USER_ID": "@bot:localhost",
        "MATRIX_ACCESS_TOKEN": bot_token,
        "MATRIX_ADMIN": "@root:localhost",
        "MATRIX_EDIT_INTERVAL": "0",
        "NOTIFY_ADMIN_NEW_USERS": "false",
    }
    log = tmp_path / "bot.log"
    with log.open("wb") as out:  # a file, not a pipe: the bot never blocks on its output
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "entrypoints.matrix",
            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        room = await direct_room(sam)  # the bot joined: it is serving
        asked = await sam.say(room, "tell me something long")
        await sam.wait_for(replying_to(asked))
        process.send_signal(signal.SIGTERM)
        _, final = await sam.final_answer(room, asked)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0, log.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    data = json.loads((tmp_path / "data.matrix.json").read_text())
    assert data[sam.id]["balance"] == 30_000 - tokens_used(final["body"])
    await sam.client.close()


async def test_a_second_bot_on_the_same_data_file_is_refused(
    synapse: Synapse, bot: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Telegram and Matrix on one data.json: two processes cannot share it, and the second
    says so instead of overwriting what the first saves."""
    pat = await person(synapse, "pat")
    first = await bot("@root:localhost")
    await direct_room(pat)  # the first bot joined: it is serving, its data file locked
    second = await bot("@root:localhost")
    assert await asyncio.wait_for(second.task, TIMEOUT) == 2
    assert "in use by another running bot" in capsys.readouterr().err
    assert not first.task.done()
    await pat.client.close()
