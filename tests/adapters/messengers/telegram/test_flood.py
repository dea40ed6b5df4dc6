"""Flood control on Telethon's own request path: one chat's FloodWait is that chat's alone, the
final answer arrives after repeated floods (or fails loudly), and the pacer keeps its window."""

from __future__ import annotations

import asyncio

import pytest
from telethon import errors
from telethon.tl import functions

from adapters.messengers.telegram.flood import UNLIMITED, Window
from adapters.messengers.telegram.sink import TelegramSink
from adapters.messengers.telegram.stream import Mode
from core.errors import DeliveryFailed
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    entity_texts,
    incoming,
)

EditRequest = functions.messages.EditMessageRequest
SendRequest = functions.messages.SendMessageRequest


def in_group(request: object) -> bool:
    return getattr(getattr(request, "peer", None), "channel_id", None) is not None


async def test_a_group_flood_wait_does_not_hold_a_private_chat(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    group = sink.stream(GROUP_ID, 1)
    alice = sink.stream(ALICE.id, None)
    await group.update("group answer")
    await alice.update("alice answer")
    tg.fail(EditRequest, lambda r: errors.FloodWaitError(r, capture=30), when=in_group)
    ticker.advance(5)
    await group.update("group answer grows")  # FLOOD_WAIT_30, for the group
    # Telethon has remembered FLOOD_WAIT_30 for every EditMessageRequest of the client; the
    # sink forgets it, so Alice's edit, final edit and a new message go out at once.
    await alice.update("alice answer grows")
    assert alice.shown
    assert tg.shown(ALICE.id)[0].message == "alice answer grows"
    ticker.advance(1)
    await alice.finish("alice **done**")
    await sink.send(BOB.id, "hello Bob")
    assert ticker.sleeps == []  # nobody waited
    assert [m.message for m in tg.shown(ALICE.id)] == ["alice done"]
    assert [m.message for m in tg.shown(BOB.id)] == ["hello Bob"]
    await group.finish("group done")
    # The wait holds the group's edits only: its final goes out at once as a new message, and
    # the fragment is deleted.
    assert ticker.sleeps == []
    assert [m.message for m in tg.shown(GROUP_ID)] == ["group done"]
    assert [r.message for r in tg.sent() if in_group(r)] == ["group answer", "group done"]


async def test_flood_waits_on_the_final_edit_and_on_sending_and_the_final_still_arrives(
    tg: FakeTelegram, sink: TelegramSink, ticker: Ticker
) -> None:
    stream = sink.stream(ALICE.id, None)
    await stream.update("Stu")
    ticker.advance(2)
    tg.fail(EditRequest, lambda r: errors.FloodWaitError(r, capture=2), times=6)
    tg.fail(SendRequest, lambda r: errors.FloodWaitError(r, capture=2), times=3)
    ids = await stream.finish("**Stuff** in full\n\nTokens used: 12")
    # The refused edit holds edits only: a new message at once (itself refused three times,
    # each wait waited out), the fragment gone.
    [message] = tg.shown(ALICE.id)
    assert ids == [message.id]
    assert message.message == "Stuff in full\n\nTokens used: 12"
    assert entity_texts(message.message, message.entities) == [("Bold", "Stuff")]
    assert len(tg.edits()) == 1
    assert ticker.sleeps == [2] * 3


async def test_a_wait_longer_than_the_maximum_fails_the_delivery(
    tg: FakeTelegram, ticker: Ticker
) -> None:
    sink = TelegramSink(
        tg, mode=Mode.EDIT, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep, max_wait=600
    )
    stream = sink.stream(ALICE.id, None)
    await stream.update("partial")
    ticker.advance(2)
    tg.fail(EditRequest, lambda r: errors.FloodWaitError(r, capture=400))  # then sent anew
    tg.fail(SendRequest, lambda r: errors.FloodWaitError(r, capture=400), times=2)
    with pytest.raises(DeliveryFailed, match="600 s"):
        await stream.finish("final")
    assert ticker.sleeps == [400]  # the first wait fitted; the second would pass 600 s
    assert stream.shown  # the partial text was seen: the core charges what was produced


async def test_a_wait_within_the_maximum_is_waited_out(tg: FakeTelegram, ticker: Ticker) -> None:
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep, max_wait=600)
    tg.fail(SendRequest, lambda r: errors.FloodWaitError(r, capture=250), times=2)
    ids = await sink.send(ALICE.id, "patience")
    assert ticker.sleeps == [250, 250]
    assert ids == [m.id for m in tg.shown(ALICE.id)]


async def test_outages_are_retried_until_the_maximum(tg: FakeTelegram, ticker: Ticker) -> None:
    sink = TelegramSink(tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep, max_wait=60)
    tg.fail(SendRequest, lambda r: errors.RPCError(r, "INTERNAL", 500), times=1000)
    with pytest.raises(DeliveryFailed):
        await sink.send(ALICE.id, "hello")
    assert 0 < sum(ticker.sleeps) <= 60


async def test_a_window_never_lets_more_than_its_count_through_in_any_period() -> None:
    window = Window(5, 0.2)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one() -> None:
        window.back(await window.turn())  # a request that comes back at once
        times.append(loop.time())

    await asyncio.gather(*(one() for _ in range(17)))
    assert len(times) == 17
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 0.2) <= 5
    assert times[-1] - times[0] >= 0.6  # 17 turns at 5 per 0.2 s take at least three periods


async def test_interim_updates_leave_room_for_messages_that_must_arrive() -> None:
    window = Window(10, 60)
    for _ in range(8):
        window.take()
    assert window.has_room()
    assert not window.has_room(reserve=2)  # an interim update keeps 20% free


async def test_a_flood_wait_on_a_lookup_does_not_stop_other_chats_lookups(
    tg: FakeTelegram, sink: TelegramSink
) -> None:
    tg.store(incoming("a question", message_id=40))
    tg.store(incoming("Bob's question", sender=BOB, message_id=41))
    tg.fail(
        functions.messages.GetMessagesRequest,
        lambda r: errors.FloodWaitError(r, capture=60),
    )
    assert await sink.lookup(ALICE.id, 40) is None  # flood-waited: no context this time
    node = await sink.lookup(BOB.id, 41)
    assert node is not None
    assert node.text == "Bob's question"
