"""Pacing under Telegram's real limits, on virtual time (the loop's clock jumps to its next
timer, so a 40 s stall takes no real time and a busy machine cannot change what is measured):
drafts kept alive through a model stall, a busy group's finals, a draft flood that holds
nothing else."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs
from telethon import errors
from telethon.tl import functions, types

from adapters.clock import FakeClock
from adapters.messengers.telegram.bot import TelegramBot
from adapters.messengers.telegram.flood import UNLIMITED, Priority, Window
from adapters.messengers.telegram.formats import MessageFormat
from adapters.messengers.telegram.replies import TelegramReplies
from adapters.messengers.telegram.sink import TelegramSink
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.tokens import CharTokenCounter
from core.values import Chunk, ModelRequest, Usage
from entrypoints.bootstrap import assemble
from tests.adapters.messengers.telegram.fakes import (
    ALICE,
    BOB,
    GROUP,
    GROUP_ID,
    FakeTelegram,
    Ticker,
    incoming,
)
from tests.adapters.messengers.telegram.virtual_time import run

LATENCY = 0.03  # seconds a request takes on the fake network
# The entities format: these tests follow the words of drafts and finals as plain text (the
# rich format shares the same pacing; one stall test runs it too).
ENTITIES = MessageFormat.ENTITIES
TypingRequest = functions.messages.SetTypingRequest
SendRequest = functions.messages.SendMessageRequest
EditRequest = functions.messages.EditMessageRequest


def people(tg: FakeTelegram, count: int, first: int = 10_000) -> list[types.User]:
    users = [
        types.User(id=first + i, access_hash=7 + i, first_name=f"User {i}") for i in range(count)
    ]
    tg.know(*users)
    return users


def is_draft(request: Any) -> bool:
    """A draft, rich (the default) or text."""
    return isinstance(request, TypingRequest) and isinstance(
        request.action,
        types.SendMessageTextDraftAction | types.InputSendMessageRichMessageDraftAction,
    )


def draft_text(request: Any) -> str:
    action = request.action
    if isinstance(action, types.InputSendMessageRichMessageDraftAction):
        return str(action.rich_message.markdown)
    return str(action.text.text)


def to(chat: int, request: Any) -> bool:
    return getattr(getattr(request, "peer", None), "user_id", None) == chat


def moments(tg: FakeTelegram, which: Any) -> list[float]:
    """When each request ``which`` accepts reached Telegram (loop time)."""
    return [t for t, r in zip(tg.times, tg.requests, strict=True) if which(r)]


def gaps(times: Sequence[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def stalled_answer(tg: FakeTelegram, sink: TelegramSink) -> None:
    """Alice waits 3 s for the first words, then the model is silent for 40 s."""
    stream = sink.stream(ALICE.id, None)
    await sink.typing(ALICE.id)
    await asyncio.sleep(3)
    await stream.update("Let me think")
    await asyncio.sleep(40)
    await stream.update("Let me think. It is 42.")
    await stream.finish("Let me think. It is **42**.")


def test_a_40_s_stall_never_leaves_a_private_chat_without_its_draft_for_25_s() -> None:
    async def main() -> FakeTelegram:
        tg = FakeTelegram(latency=LATENCY)
        sink = TelegramSink(
            tg, clock=asyncio.get_running_loop().time, message_format=ENTITIES
        )  # Telegram's limits
        await stalled_answer(tg, sink)
        sink.close()
        return tg

    tg = run(main())
    drafts = [draft_text(r) for r in tg.requests if is_draft(r)]
    assert drafts[0] == "Let me think"
    assert drafts.count("Let me think") >= 2  # sent again during the stall
    shown = moments(tg, lambda r: is_draft(r) or isinstance(r, SendRequest))
    assert max(gaps(shown)) <= 25
    typing = moments(tg, lambda r: isinstance(r, TypingRequest) and not is_draft(r))
    assert typing  # "typing…" while nothing was shown yet
    assert max(typing) < shown[0]
    [final] = tg.shown(ALICE.id)
    assert final.message == "Let me think. It is 42."


def test_a_stalled_rich_draft_is_kept_alive_too() -> None:
    async def main() -> FakeTelegram:
        tg = FakeTelegram(latency=LATENCY)
        sink = TelegramSink(tg, clock=asyncio.get_running_loop().time)  # rich, the default
        await stalled_answer(tg, sink)
        sink.close()
        return tg

    tg = run(main())
    drafts = [r for r in tg.requests if is_draft(r)]
    assert all(isinstance(r.action, types.InputSendMessageRichMessageDraftAction) for r in drafts)
    assert [draft_text(r) for r in drafts].count("Let me think") >= 2  # again during the stall
    shown = moments(tg, lambda r: is_draft(r) or isinstance(r, SendRequest))
    assert max(gaps(shown)) <= 25


def test_a_stalled_draft_is_kept_even_when_the_bot_is_busy_with_messages_that_must_arrive() -> None:
    async def main() -> FakeTelegram:
        tg = FakeTelegram(latency=LATENCY)
        others = people(tg, 1_500)
        sink = TelegramSink(tg, clock=asyncio.get_running_loop().time, message_format=ENTITIES)

        async def crowd() -> None:
            # Forty messages a second to other chats: more than the bot may send, so messages
            # that must arrive queue up for the whole stall, and interim updates get no turn.
            for second in range(40):
                for user in others[second * 40 : (second + 1) * 40]:
                    asyncio.create_task(sink.send(user.id, "news"))  # noqa: RUF006
                await asyncio.sleep(1)

        busy = asyncio.create_task(crowd())
        await stalled_answer(tg, sink)
        await busy
        sink.close()
        return tg

    tg = run(main())
    shown = moments(tg, lambda r: to(ALICE.id, r) and (is_draft(r) or isinstance(r, SendRequest)))
    assert max(gaps(shown)) <= 25
    assert [m.message for m in tg.shown(ALICE.id)] == ["Let me think. It is 42."]


def test_a_draft_flood_holds_neither_another_chat_nor_that_chats_final() -> None:
    tg = FakeTelegram()
    ticker = Ticker()
    sink = TelegramSink(
        tg, limits=UNLIMITED, clock=ticker, sleep=ticker.sleep, message_format=ENTITIES
    )

    async def main() -> None:
        tg.fail(
            TypingRequest,
            lambda r: errors.FloodWaitError(r, capture=20),
            when=lambda r: to(ALICE.id, r),
        )
        alice = sink.stream(ALICE.id, None)
        bob = sink.stream(BOB.id, None)
        await alice.update("Hi")  # FLOOD_WAIT_20 on Alice's drafts
        await bob.update("Hello Bob")
        assert bob.shown
        ticker.advance(1)
        await alice.update("Hi there")  # no draft during the wait
        await alice.finish("Hi **there**")
        await bob.finish("Hello Bob, **done**")
        sink.close()

    asyncio.run(main())
    assert ticker.sleeps == []  # nobody waited out the draft's 20 s
    assert [m.message for m in tg.shown(ALICE.id)] == ["Hi there"]
    assert [m.message for m in tg.shown(BOB.id)] == ["Hello Bob, done"]
    assert len([r for r in tg.requests if is_draft(r) and to(ALICE.id, r)]) == 1


@attrs.define
class SlowModel:
    """Writes each answer word by word over ``seconds``, ending it with a mark of its own;
    remembers when it finished each (loop time)."""

    seconds: float
    words: int = 29
    finished: dict[str, float] = attrs.field(factory=dict)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        mark = f"[answer {len(self.finished) + 1} ends]"
        self.finished[mark] = float("inf")
        for word in range(self.words):
            await asyncio.sleep(self.seconds / self.words)
            yield Chunk(text=f"word{word} ")
        yield Chunk(text=mark)
        self.finished[mark] = asyncio.get_running_loop().time()
        yield Chunk(usage=Usage(10, self.words))

    async def close(self) -> None:
        return None


def test_a_busy_group_shows_every_final_within_5_s_of_the_model_finishing_it() -> None:
    model = SlowModel(seconds=8.7)

    async def main() -> FakeTelegram:
        tg = FakeTelegram(latency=LATENCY)
        askers = people(tg, 6)
        sink = TelegramSink(
            tg, clock=asyncio.get_running_loop().time, message_format=ENTITIES
        )  # Telegram's limits
        replies = TelegramReplies(sink)
        app = assemble(
            BotConfig(admin_id="1", footer=False, notify_new_users=False),
            sink=replies,
            lookup=replies,
            accounts=MemoryAccountStore(),
            threads=MemoryThreadStore(),
            model=model,
            counter=CharTokenCounter(),
            clock=FakeClock(),
        )
        bot = TelegramBot(tg, app.service.submit, sink=sink)
        await bot.start()
        mention = [types.MessageEntityMention(0, len("@thisbot"))]
        questions = [(user, f"@thisbot question from {user.first_name}") for user in askers]
        questions += [(ALICE, f"@thisbot Alice's question {n}") for n in (1, 2, 3)]
        await tg.receive_all(
            incoming(text, chat=GROUP, sender=user, message_id=number, entities=mention)
            for number, (user, text) in enumerate(questions, start=1)
        )
        await bot.stop()
        await app.service.drain()
        await bot.close()
        sink.close()
        return tg

    tg = run(main())
    assert len(model.finished) == 9
    writes = [
        (moment, request.message)
        for moment, request in zip(tg.times, tg.requests, strict=True)
        if isinstance(request, (SendRequest, EditRequest))
    ]
    for mark, done in model.finished.items():
        shown = min(moment for moment, text in writes if mark in text)
        assert shown - done <= 5, f"{mark} shown {shown - done:.1f} s after the model ended it"
    finals = [m.message for m in tg.shown(GROUP_ID)]
    assert sorted(mark for text in finals for mark in model.finished if mark in text) == sorted(
        model.finished
    )


def test_in_a_crowd_every_chats_first_text_goes_before_anyones_second_draft() -> None:
    async def main() -> tuple[FakeTelegram, list[types.User]]:
        tg = FakeTelegram(latency=LATENCY)
        crowd = people(tg, 150)
        sink = TelegramSink(
            tg, clock=asyncio.get_running_loop().time, message_format=ENTITIES
        )  # Telegram's limits

        async def answer(user: types.User) -> None:
            stream = sink.stream(user.id, None)
            await sink.typing(user.id)
            text = ""
            for _ in range(120):  # a word every 50 ms for 6 s
                text += "word "
                await stream.update(text)
                await asyncio.sleep(0.05)
            await stream.finish(text + "**end**")

        await asyncio.gather(*(answer(user) for user in crowd))
        sink.close()
        return tg, crowd

    tg, crowd = run(main())
    drafts = {
        user.id: moments(tg, lambda r, chat=user.id: is_draft(r) and to(chat, r)) for user in crowd
    }
    seconds = [times[1] for times in drafts.values() if len(times) > 1]
    assert seconds  # the crowd thinned out before the answers ended: drafts went on
    assert max(times[0] for times in drafts.values()) < min(seconds)
    assert all(m.message.endswith("word end") for u in crowd for m in tg.shown(u.id))


def test_a_window_serves_by_priority_and_never_exceeds_its_count() -> None:
    async def main() -> tuple[list[tuple[str, float]], list[float]]:
        loop = asyncio.get_running_loop()
        window = Window(2, 1.0)
        served: list[tuple[str, float]] = []
        interim: list[float] = []

        async def waiter(name: str, priority: Priority = Priority.MUST) -> None:
            window.back(await window.turn(priority))  # requests that come back at once
            served.append((name, loop.time()))

        async def interim_updates() -> None:  # skipped whenever anyone waits
            for _ in range(60):
                if window.has_room():
                    window.back(window.take())
                    interim.append(loop.time())
                await asyncio.sleep(0.1)

        queue = [asyncio.create_task(waiter(f"must {n}")) for n in range(6)]
        gone = asyncio.create_task(waiter("cancelled"))
        await asyncio.sleep(0)
        updates = asyncio.create_task(interim_updates())
        await asyncio.sleep(0.5)
        gone.cancel()
        keep = asyncio.create_task(waiter("draft about to vanish", Priority.KEEP))
        await asyncio.gather(*queue, keep, updates)
        return served, interim

    served, interim = run(main())
    names = [name for name, _ in served]
    assert names == ["must 0", "must 1", "draft about to vanish"] + [
        f"must {n}" for n in (2, 3, 4, 5)
    ]
    every = sorted([moment for _, moment in served] + interim)
    assert all(
        sum(1 for later in every[i:] if later < start + 1.0) <= 2 for i, start in enumerate(every)
    )
    assert interim
    assert min(interim) >= max(moment for _, moment in served)


def test_a_woken_waiter_keeps_its_turn_from_an_interim_update() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        window = Window(1, 1.0)
        window.back(await window.turn())  # a request that comes back at once
        frees = loop.time() + 1.0
        taken: list[float] = []

        def interim(tries: int) -> None:
            if window.has_room():
                window.back(window.take())
                taken.append(loop.time())
            elif tries:
                loop.call_soon(interim, tries - 1)  # each step of the loop around the wake-up

        queued = asyncio.create_task(window.turn())
        await asyncio.sleep(0)  # queued: the window's server sleeps until it frees
        loop.call_at(frees, interim, 5)  # interim updates as the waiter is woken
        window.back(await queued)
        await asyncio.sleep(2)
        return taken

    assert run(main()) == []  # the window's one turn went to the waiter


def test_a_turn_counts_until_its_request_comes_back_then_for_the_period() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        window = Window(1, 1.0)
        slot = await window.turn()
        start = loop.time()
        following = asyncio.create_task(window.turn())
        await asyncio.sleep(1.5)  # the request is still on its way (a busy loop, a slow network)
        assert not following.done()
        window.back(slot)
        window.back(await following)
        return loop.time() - start

    assert run(main()) >= 2.5  # a period after the first request came back, not after its turn
