"""What a person sees and pays when delivery goes wrong: stopped answers, chats that cannot be
reached, final messages that never arrive, notices for an admin who cannot be reached."""

from __future__ import annotations

import asyncio
import re

from core import errors
from tests.fakes import FinishFails, GoneChat, StoppingSink, UnreachableOperator
from tests.unit.conftest import ALICE, BOB, GROUP, Harness, make_harness


async def test_a_chat_gone_before_the_model_ran_costs_nothing(bot: Harness) -> None:
    await bot.say("/start")
    bot.use_sink(GoneChat(bot.sink, after=0))
    await bot.say("hi")
    assert bot.model.requests == []  # "typing" already failed: the model is never asked
    assert await bot.balance(ALICE.id) == 30_000
    assert await bot.accounts.held(ALICE.id) == 0
    assert (await bot.totals()).requests == 0


async def test_a_chat_gone_before_anything_was_shown_stops_the_model_and_costs_nothing(
    bot: Harness,
) -> None:
    await bot.say("/start")
    bot.use_sink(GoneChat(bot.sink, after=0, typing_works=True))
    bot.model.pieces = ("one", " two", " three", " four")
    await bot.say("hi")
    assert bot.model.closed_streams == 1  # the request was stopped, not read to its end
    assert await bot.balance(ALICE.id) == 30_000
    assert await bot.accounts.held(ALICE.id) == 0


async def test_a_chat_gone_mid_answer_pays_only_what_was_produced(bot: Harness) -> None:
    await bot.say("/start")
    bot.use_sink(GoneChat(bot.sink, after=1))
    bot.model.pieces = ("x" * 50, "y" * 50, "z" * 5_000)
    bot.model.usage = None
    await bot.say("hi")
    assert bot.model.closed_streams == 1
    charged = 30_000 - await bot.balance(ALICE.id)
    # The prompt and the 100 characters produced before the block, not the 5 000 after it.
    assert 0 < charged < 100
    assert await bot.accounts.held(ALICE.id) == 0


async def test_stop_pressed_mid_answer_keeps_and_charges_what_was_produced(bot: Harness) -> None:
    await bot.say("/start")
    bot.use_sink(StoppingSink(bot.sink, after=1))
    bot.model.pieces = ("Once upon", " a time", " there was " + "a long story " * 500)
    await bot.say("tell me a story")
    assert bot.model.closed_streams == 1
    shown = bot.last()
    assert shown.startswith("Once upon")
    assert "a long story" not in shown
    assert "(Stopped at your request.)" in shown
    assert "≈" in shown  # the model never reported usage for a stopped answer
    charged = 30_000 - await bot.balance(ALICE.id)
    assert 0 < charged < 50
    node = await bot.threads.get(ALICE.id, bot.sink.sent[-1].message_ids[0])
    assert node is not None
    assert node.text == "Once upon a time"  # the thread remembers what was produced


async def test_a_final_answer_that_cannot_be_delivered_is_refunded() -> None:
    bot = make_harness(notify_new_users=False)
    await bot.say("/start")
    bot.use_sink(FinishFails(bot.sink, errors.DeliveryFailed("flood waits for 20 minutes")))
    await bot.say("hi")
    await bot.service.drain()
    assert await bot.balance(ALICE.id) == 30_000
    account = await bot.account(ALICE.id)
    assert (account.requests, account.tokens) == (0, 0)
    assert await bot.totals() == type(await bot.totals())(0, 0)
    assert any("could not be delivered" in notice for notice in bot.operator.notices)


async def test_an_estimated_charge_is_marked_as_one(bot: Harness) -> None:
    bot.model.usage = None
    await bot.say("hi")
    charged = 30_000 - await bot.balance(ALICE.id)
    assert bot.last().endswith(f"Tokens used: ≈{charged} (estimated: the model did not report it)")


async def test_a_misconfigured_model_is_explained_and_the_admin_told_once(bot: Harness) -> None:
    bot.model.fail_with = [errors.ModelMisconfigured("404 model 'gpt-9' not found")] * 2
    await bot.say("hi")
    await bot.say("hi", sender=BOB)
    await bot.service.drain()
    assert "settings are wrong" in bot.sink.texts(ALICE.id)[-1]
    assert "Nothing was charged" in bot.sink.texts(ALICE.id)[-1]
    assert len(bot.operator.notices) == 1
    assert "gpt-9' not found" in bot.operator.notices[0]


async def test_a_reply_to_an_error_continues_the_conversation(bot: Harness) -> None:
    await bot.say("my name is Bob")
    answer = bot.sink.sent[-1].message_ids[0]
    bot.model.fail_with = [errors.ModelTimeout("slow")]
    await bot.say("what is my name?", reply_to=answer)
    error = bot.sink.sent[-1].message_ids[0]
    await bot.say("try again", reply_to=error)
    texts = [turn.text for turn in bot.model.requests[-1].turns]
    assert texts == [
        "You are a helpful assistant",
        "my name is Bob",
        "Hello, world",
        "what is my name?",
        "try again",
    ]


async def test_a_message_alone_too_long_for_the_model_is_not_told_to_start_over(
    bot: Harness,
) -> None:
    bot.model.fail_with = [errors.ContextTooLong("too long")]
    await bot.say("a long question")
    assert "Start a new one" not in bot.last()
    assert "shorten it" in bot.last()


async def test_older_turns_left_out_are_mentioned() -> None:
    bot = make_harness(context_budget=200)
    previous = None
    for n in range(6):
        await bot.say(f"question {n} " + "x" * 100, reply_to=previous)
        previous = bot.sink.sent[-1].message_ids[0]
    assert "oldest messages of this conversation were left out" in bot.last()


# -- order and concurrency -------------------------------------------------------------------


async def test_two_people_in_one_group_are_answered_at_the_same_time() -> None:
    bot = make_harness()
    bot.model.gate = asyncio.Event()
    first = bot.service.submit(bot.message("one", ALICE, chat_id=GROUP))
    second = bot.service.submit(bot.message("two", BOB, chat_id=GROUP))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(bot.model.requests) == 2  # both reached the model before either was answered
    bot.model.gate.set()
    await asyncio.gather(first, second)


async def test_one_persons_messages_are_handled_in_order() -> None:
    bot = make_harness()
    bot.model.gate = asyncio.Event()
    first = bot.service.submit(bot.message("one", ALICE, chat_id=GROUP))
    second = bot.service.submit(bot.message("two", ALICE, chat_id=GROUP))
    for _ in range(20):
        await asyncio.sleep(0)
    assert [r.turns[-1].text for r in bot.model.requests] == ["one"]
    bot.model.gate.set()
    await asyncio.gather(first, second)
    assert [r.turns[-1].text for r in bot.model.requests] == ["one", "two"]


async def test_a_slow_answer_in_a_group_does_not_delay_another_persons() -> None:
    bot = make_harness()
    bot.model.delay = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(
        bot.service.submit(bot.message("one", ALICE, chat_id=GROUP)),
        bot.service.submit(bot.message("two", BOB, chat_id=GROUP)),
    )
    # Served one after the other this would take 0.6 s; together, one delay.
    assert loop.time() - started < 0.55


async def test_messages_after_stop_are_told_to_come_back(bot: Harness) -> None:
    bot.service.request_stop()
    await bot.say("hello?", chat_id=GROUP)
    assert "try again in a minute" in bot.last()
    assert bot.sink.sent[-1].reply_to is not None
    assert bot.model.requests == []


# -- the admin -----------------------------------------------------------------------------


async def test_an_unreachable_admin_changes_nothing_for_users() -> None:
    bot = make_harness(notify_new_users=True, notify_requests=True)
    unreachable = UnreachableOperator()
    bot.service.notices.operator = unreachable
    await bot.say("hi")  # a new user: the notice fails, the answer must not
    await bot.service.drain()
    assert bot.last().startswith("Hello, world")
    assert "Tokens used: 15" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000 - 15
    assert unreachable.tries >= 1
    assert bot.service.notices.dropped == unreachable.tries


async def test_notices_never_hold_an_answer() -> None:
    bot = make_harness(notify_new_users=True)
    slow = _SlowOperator()
    bot.service.notices.operator = slow
    await bot.say("hi")  # returns although the admin's notice is still being delivered
    assert bot.last().startswith("Hello, world")
    assert slow.notices == []
    slow.arrived.set()
    await bot.service.drain()
    assert slow.notices == ["New user: Alice @alice (100)"]


async def test_many_new_users_make_few_notices() -> None:
    bot = make_harness(notify_new_users=True)
    slow = _SlowOperator()
    bot.service.notices.operator = slow
    from core.values import Sender

    people = [Sender(str(1000 + n), f"User {n}") for n in range(30)]
    await asyncio.gather(*(bot.say("hi", sender=person) for person in people))
    slow.arrived.set()
    await bot.service.drain()
    # Whatever arrives while one notice is on its way goes out together in the next one.
    assert len(slow.notices) <= 2
    named = sum(notice.count("(10") for notice in slow.notices)
    more = sum(int(n) for n in re.findall(r"… and (\d+) more", "".join(slow.notices)))
    assert named + more == 30


async def test_strangers_and_new_users_are_merged_each_with_their_kind() -> None:
    bot = make_harness(notify_new_users=True, allowed_users=("1000", "1001", "1002"))
    slow = _SlowOperator()
    bot.service.notices.operator = slow
    from core.values import Sender

    people = [Sender(str(1000 + n), f"User {n}") for n in range(6)]  # three are strangers
    await asyncio.gather(*(bot.say("hi", sender=person) for person in people))
    slow.arrived.set()
    await bot.service.drain()
    # Whatever waits goes out together, each kind in its own notice: at most one per kind
    # behind the first.
    assert len(slow.notices) <= 3
    strangers = "".join(notice for notice in slow.notices if "asked to use the bot" in notice)
    new_users = "".join(notice for notice in slow.notices if "asked to use" not in notice)
    assert all(f"User {n} ({1000 + n})" in strangers for n in (3, 4, 5))
    assert all(f"User {n} ({1000 + n})" in new_users for n in (0, 1, 2))
    assert not any(f"({1000 + n})" in strangers for n in (0, 1, 2))
    assert not any(f"({1000 + n})" in new_users for n in (3, 4, 5))


class _SlowOperator:
    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.notices: list[str] = []

    async def notify(self, text: str) -> None:
        await self.arrived.wait()
        self.notices.append(text)
