"""The PostgreSQL thread store against a real server."""

from __future__ import annotations

import attrs
import psycopg
import pytest

from adapters.storage.postgres.threads import PostgresThreadStore
from core.threads import chain_of
from core.values import Attachment, MediaKind, Node, Role
from tests.adapters.storage.test_chains import check_chains

pytestmark = pytest.mark.postgres


def made_chain(length: int, chat: str = "c") -> list[Node]:
    return [
        Node(
            chat_id=chat,
            message_id=str(i),
            role=Role.USER if i % 2 else Role.ASSISTANT,
            text=f"turn {i}",
            parent=str(i - 1) if i > 1 else None,
        )
        for i in range(1, length + 1)
    ]


async def test_nodes_are_found_by_chat_and_message(threads):
    first = Node(chat_id="-100", message_id="5", role=Role.USER, text="hi")
    reply = Node(chat_id="-100", message_id="6", role=Role.ASSISTANT, text="hello", parent="5")
    elsewhere = Node(chat_id="7", message_id="5", role=Role.USER, text="other chat")
    await threads.add([first, reply, elsewhere])
    assert await threads.get("-100", "6") == reply
    assert await threads.get("-100", "5") == first
    assert await threads.get("7", "5") == elsewhere
    assert await threads.get("-100", "99") is None


async def test_a_pass_through_node_keeps_role_none(database_url):
    writer = await PostgresThreadStore.open(database_url)
    reader = await PostgresThreadStore.open(database_url)  # nothing cached: read from the table
    try:
        error = Node(chat_id="1", message_id="2", role=None, text="The model failed", parent="1")
        await writer.add([error])
        assert await reader.get("1", "2") == error
    finally:
        await writer.close()
        await reader.close()


async def test_the_walk_is_one_query_up_to_the_limit(threads):
    nodes = made_chain(10)
    await threads.add(nodes)
    walked = await chain_of(threads, "c", "10", 4)
    assert walked == nodes[::-1][:4]
    assert await chain_of(threads, "c", "10", 100) == nodes[::-1]
    assert await chain_of(threads, "c", "nope", 100) == []


async def test_chains_are_read_as_every_store_reads_them(database_url):
    written = await PostgresThreadStore.open(database_url)
    read = await PostgresThreadStore.open(database_url)  # nothing cached: read from the table
    try:
        await check_chains(written, read)
    finally:
        await written.close()
        await read.close()


async def test_a_chain_read_once_is_served_from_memory_then(database_url):
    writer = await PostgresThreadStore.open(database_url)
    reader = await PostgresThreadStore.open(database_url)
    try:
        nodes = made_chain(5)
        await writer.add(nodes)
        assert await chain_of(reader, "c", "5", 10) == nodes[::-1]
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("DELETE FROM nodes")
        # The next message of the conversation walks the same chain: no query for it.
        assert await chain_of(reader, "c", "5", 10) == nodes[::-1]
        assert await chain_of(reader, "c", "3", 2) == nodes[2:0:-1]
    finally:
        await writer.close()
        await reader.close()


async def test_a_failed_chain_read_is_logged_and_ends_the_chain(threads, caplog):
    await threads.close()
    assert await chain_of(threads, "1", "1", 10) == []
    assert "cannot read reply chains" in caplog.text


async def test_nodes_are_read_ahead_for_the_walk(database_url):
    writer = await PostgresThreadStore.open(database_url)
    reader = await PostgresThreadStore.open(database_url)
    try:
        nodes = made_chain(5)
        await writer.add(nodes)
        assert await reader.get("c", "5") == nodes[-1]
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("DELETE FROM nodes")
        # Read with the first, from one query: the walk does not go back to the database.
        assert [await reader.get("c", str(i)) for i in range(1, 5)] == nodes[:4]
    finally:
        await writer.close()
        await reader.close()


async def test_adding_a_node_again_replaces_it(threads):
    await threads.add([Node(chat_id="1", message_id="1", role=Role.USER, text="draft")])
    final = Node(chat_id="1", message_id="1", role=Role.USER, text="final")
    await threads.add([Node(chat_id="1", message_id="1", role=Role.USER, text="x"), final])
    assert await chain_of(threads, "1", "1", 1) == [final]
    assert await threads.count() == 1


async def test_only_the_newest_nodes_are_kept(database_url):
    store = await PostgresThreadStore.open(database_url, retention=20)
    try:
        for start in range(0, 100, 5):
            await store.add(
                [Node(chat_id="c", message_id=str(i), role=Role.USER, text="t")
                 for i in range(start, start + 5)]
            )  # fmt: skip
        assert await store.count() <= 22
        fresh = await PostgresThreadStore.open(database_url)  # nothing cached: the table
        assert await chain_of(fresh, "c", "99", 1) != []
        assert await chain_of(fresh, "c", "0", 1) == []
        await fresh.close()
    finally:
        await store.close()


async def test_a_failed_read_is_not_found_and_logged(threads, caplog):
    await threads.close()
    assert await threads.get("1", "1") is None
    assert "cannot read reply chains" in caplog.text


async def test_adds_at_the_same_time_are_all_kept(database_url):
    import asyncio

    store = await PostgresThreadStore.open(database_url)
    reader = await PostgresThreadStore.open(database_url)
    try:
        await asyncio.gather(
            *(
                store.add(
                    [
                        Node(chat_id=str(i), message_id="1", role=Role.USER, text="q"),
                        Node(chat_id=str(i), message_id="2", role=None, text="e", parent="1"),
                    ]
                )
                for i in range(50)
            )
        )
        assert await reader.count() == 100
        assert await chain_of(reader, "49", "2", 5) == [
            Node(chat_id="49", message_id="2", role=None, text="e", parent="1"),
            Node(chat_id="49", message_id="1", role=Role.USER, text="q"),
        ]
    finally:
        await store.close()
        await reader.close()


PHOTO = Attachment(
    MediaKind.IMAGE, "1001", mime="image/png", name="кот 🐈\x00.png", size=0, width=640, height=480
)
VOICE = Attachment(MediaKind.VOICE, "1002", mime="audio/ogg", duration=0.1 + 0.2)


async def test_attachments_come_back_exactly(database_url):
    writer = await PostgresThreadStore.open(database_url)
    reader = await PostgresThreadStore.open(database_url)  # nothing cached: read from the table
    try:
        nodes = [
            attrs.evolve(node, attachments=(PHOTO, VOICE) if node.message_id == "1" else (PHOTO,))
            if node.role is Role.USER
            else node
            for node in made_chain(6)
        ]
        await writer.add(nodes)
        assert await chain_of(reader, "c", "6", 10) == nodes[::-1]
        assert [await reader.get("c", str(i)) for i in range(1, 7)] == nodes
        replaced = attrs.evolve(nodes[0], attachments=())
        await writer.add([replaced])
        fresh = await PostgresThreadStore.open(database_url)  # nothing cached: the table
        assert await chain_of(fresh, "c", "1", 1) == [replaced]
        await fresh.close()
        with psycopg.connect(database_url) as connection:
            stored = connection.execute("SELECT message, attachments FROM nodes ORDER BY seq")
            values: dict[str, str | None] = dict(stored.fetchall())
        assert values["1"] is None  # no attachments: NULL
        assert values["2"] is None
        assert values["3"] is not None
    finally:
        await writer.close()
        await reader.close()
