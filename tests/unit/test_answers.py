"""Answers: threads, charging, streaming, failures."""

from __future__ import annotations

import asyncio
import re

import attrs
import pytest

from core import errors
from core.values import Role, Sender, Usage
from tests.fakes import BrokenMessenger, FailingDisk, FinishFails, UnreachableOperator
from tests.unit.conftest import ADMIN, ALICE, BOB, Harness, make_harness


async def test_first_message_registers_and_charges_reported_usage(bot: Harness) -> None:
    await bot.say("hi")
    assert await bot.balance(ALICE.id) == 30_000 - 15
    account = await bot.accounts.get(ALICE.id)
    assert account is not None
    assert (account.requests, account.tokens) == (1, 15)
    assert (await bot.accounts.totals()).requests == 1
    assert (await bot.accounts.totals()).tokens == 15
    assert bot.last() == "Hello, world\n\nTokens used: 15"


async def test_answer_streams_every_delta(bot: Harness) -> None:
    await bot.say("hi")
    assert bot.sink.sent[-1].updates == ["Hello", "Hello, ", "Hello, world"]
    assert bot.sink.typing_in == [ALICE.id]


async def test_footer_can_be_switched_off() -> None:
    bot = make_harness(footer=False)
    await bot.say("hi")
    assert bot.last() == "Hello, world"


async def test_reply_chain_reaches_the_model_whole_and_in_order(bot: Harness) -> None:
    first = await bot.say("one")
    answer1 = bot.sink.sent[-1].message_ids[0]
    await bot.say("two", reply_to=answer1)
    answer2 = bot.sink.sent[-1].message_ids[0]
    await bot.say("three", reply_to=answer2)
    turns = bot.model.requests[-1].turns
    assert [(t.role, t.text) for t in turns] == [
        (Role.SYSTEM, "You are a helpful assistant"),
        (Role.USER, "one"),
        (Role.ASSISTANT, "Hello, world"),
        (Role.USER, "two"),
        (Role.ASSISTANT, "Hello, world"),
        (Role.USER, "three"),
    ]
    assert first.reply_to is None


async def test_message_replying_to_nothing_starts_a_new_thread(bot: Harness) -> None:
    await bot.say("one")
    await bot.say("fresh start")
    assert len(bot.model.requests[-1].turns) == 2


async def test_reply_to_any_part_of_a_split_answer_continues_the_thread() -> None:
    bot = make_harness()
    bot.sink.parts = 3
    await bot.say("long question")
    second_part = bot.sink.sent[-1].message_ids[1]
    await bot.say("about the middle", reply_to=second_part)
    texts = [t.text for t in bot.model.requests[-1].turns]
    assert texts == [
        "You are a helpful assistant",
        "long question",
        "Hello, world",
        "about the middle",
    ]


async def test_old_turns_are_dropped_to_fit_the_context_budget() -> None:
    bot = make_harness(context_budget=120)
    bot.model.pieces = ("x" * 100,)
    previous = None
    for n in range(6):
        await bot.say(f"question {n}", reply_to=previous)
        previous = bot.sink.sent[-1].message_ids[0]
    turns = bot.model.requests[-1].turns
    assert turns[0].role is Role.SYSTEM
    assert turns[-1].text == "question 5"
    assert 2 < len(turns) < 12  # some history, not all of it
    assert turns[1].role is Role.ASSISTANT or turns[1].text.startswith("question")


async def test_message_too_long_for_the_budget_is_refused_free(bot: Harness) -> None:
    await bot.say("x" * 100_000)
    assert "too long" in bot.last()
    assert bot.model.requests == []
    assert await bot.balance(ALICE.id) == 30_000


async def test_reply_cap_is_lowered_to_what_the_balance_can_pay(bot: Harness) -> None:
    await bot.say("hi")
    await set_balance(bot, ALICE.id, 500)
    await bot.say("again")
    request = bot.model.requests[-1]
    assert request.max_tokens < 500
    assert bot.model.requests[0].max_tokens == 3_000


async def test_small_balance_is_refused_without_going_negative(bot: Harness) -> None:
    await bot.say("hi")
    await set_balance(bot, ALICE.id, 20)
    await bot.say("tell me everything")
    assert "Not enough tokens" in bot.last()
    assert bot.last().endswith(f"ask the bot's admin and give them your id: {ALICE.id}.")
    assert await bot.balance(ALICE.id) == 20
    assert len(bot.model.requests) == 1


async def test_negative_legacy_balance_cannot_spend(bot: Harness) -> None:
    await bot.say("hi")
    await set_balance(bot, ALICE.id, -300)
    await bot.say("hello?")
    assert "Not enough tokens" in bot.last()
    assert await bot.balance(ALICE.id) == -300


async def test_admin_balance_never_burns(bot: Harness) -> None:
    admin = ALICE.__class__(ADMIN, "Admin")
    await bot.say("hi", sender=admin)
    await bot.say("hi again", sender=admin)
    account = await bot.accounts.get(ADMIN)
    assert account is not None
    assert account.balance == 30_000
    assert account.tokens == 30
    assert (await bot.accounts.totals()).tokens == 30


@pytest.mark.parametrize(("balance", "refusals"), [(3_040, 1), (3_100, 0)])
async def test_two_requests_in_flight_cannot_overdraw(balance: int, refusals: int) -> None:
    bot = make_harness()
    await bot.say("register")
    await set_balance(bot, ALICE.id, balance)
    bot.model.gate = asyncio.Event()
    bot.model.usage = Usage(100, 3_000)  # the model claims as much as was held
    first = asyncio.create_task(bot.say("one"))
    second = asyncio.create_task(bot.say("two", chat_id="-5"))
    for _ in range(5):  # let both reach the model and wait at the gate
        await asyncio.sleep(0)
    bot.model.gate.set()
    await asyncio.gather(first, second)
    assert await bot.balance(ALICE.id) >= 0
    refused = [t for t in bot.sink.texts() if "Not enough tokens" in t]
    assert len(refused) == refusals
    assert await bot.accounts.held(ALICE.id) == 0  # nothing left on hold


async def test_charge_never_exceeds_the_hold(bot: Harness) -> None:
    await bot.say("hi")
    await set_balance(bot, ALICE.id, 200)
    bot.model.usage = Usage(5_000, 5_000)  # a model misreporting wildly
    await bot.say("again")
    assert 0 <= await bot.balance(ALICE.id) < 200


async def test_usage_missing_is_charged_as_an_estimate(bot: Harness) -> None:
    bot.model.usage = None
    await bot.say("hi")
    charged = 30_000 - await bot.balance(ALICE.id)
    assert charged > 0
    assert (await bot.accounts.totals()).tokens == charged


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errors.RateLimited("429"), "overloaded"),
        (errors.ModelUnavailable("500"), "error"),
        (errors.ModelTimeout("slow"), "too long to answer"),
        (errors.ConnectionLost("reset"), "connection"),
        (errors.ContentFiltered("no"), "content filter"),
        (errors.TruncatedAnswer("cut"), "cut off"),
        (errors.ModelError("odd"), "went wrong"),
    ],
)
async def test_failed_request_is_explained_and_free(
    bot: Harness, error: errors.ModelError, words: str
) -> None:
    bot.model.fail_with = [error]
    await bot.say("hi")
    assert words in bot.last()
    assert "Nothing was charged" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000
    assert (await bot.accounts.totals()).requests == 0
    await bot.say("again")
    assert await bot.balance(ALICE.id) == 30_000 - 15


async def test_failure_mid_stream_keeps_what_was_shown_with_the_error_below(
    bot: Harness,
) -> None:
    # The server is killed mid-answer: the person keeps reading what they had, and is told.
    bot.model.fail_with = [errors.ConnectionLost("reset")]
    bot.model.fail_after_text = True
    await bot.say("hi")
    sent = bot.sink.sent[-1]
    assert sent.updates  # the partial text was shown
    assert sent.text.startswith("Hello, world\n\n(")
    assert "The connection to the model was lost" in sent.text
    assert "Nothing was charged" in sent.text
    assert await bot.balance(ALICE.id) == 30_000
    error = await bot.threads.get(ALICE.id, sent.message_ids[0])
    assert error is not None
    assert error.role is None  # no turn of the conversation: a reply to it passes through


async def test_a_broken_answer_closes_its_code_block_before_the_error(bot: Harness) -> None:
    bot.model.pieces = ("Here:\n```python\n", "print(1)\n")
    bot.model.fail_with = [errors.TruncatedAnswer("no finish reason")]
    bot.model.fail_after_text = True
    await bot.say("code please")
    text = bot.sink.sent[-1].text
    assert text.startswith("Here:\n```python\nprint(1)\n")
    # The error is below the code, not inside it.
    assert text.index("```", text.index("print(1)")) < text.index("cut off")


async def test_an_overflow_after_some_text_is_not_retried(bot: Harness) -> None:
    await bot.say("first")
    bot.model.fail_with = [errors.ContextTooLong("odd")]
    bot.model.fail_after_text = True
    await bot.say("second", reply_to=bot.sink.sent[-1].message_ids[0])
    assert len(bot.model.requests) == 2  # no second try to overwrite what was shown
    assert bot.last().startswith("Hello, world\n\n(")


async def test_a_failure_before_any_text_shows_the_error_alone(bot: Harness) -> None:
    bot.model.fail_with = [errors.ConnectionLost("refused")]
    await bot.say("hi")
    sent = bot.sink.sent[-1]
    assert sent.text.startswith("The connection to the model was lost")
    assert not sent.markdown


async def test_failure_is_explained_in_the_users_language(bot: Harness) -> None:
    bot.model.fail_with = [errors.RateLimited("429")]
    await bot.say("привет", sender=BOB)
    assert "Ничего не списано" in bot.last()


async def test_auth_failure_tells_the_admin_once(bot: Harness) -> None:
    bot.model.fail_with = [errors.AuthFailed("401 bad key"), errors.AuthFailed("401 bad key")]
    await bot.say("hi")
    await bot.say("hi")
    await bot.service.drain()
    assert len(bot.operator.notices) == 1
    assert "401 bad key" in bot.operator.notices[0]


async def test_context_too_long_is_retried_once_with_a_shorter_thread(bot: Harness) -> None:
    previous = None
    for n in range(4):
        await bot.say(f"question {n}", reply_to=previous)
        previous = bot.sink.sent[-1].message_ids[0]
    bot.model.fail_with = [errors.ContextTooLong("too long")]
    await bot.say("last one", reply_to=previous)
    full, retried = bot.model.requests[-2:]
    assert len(retried.turns) < len(full.turns)
    assert retried.turns[-1].text == "last one"
    assert bot.last().startswith("Hello, world")


async def test_context_too_long_without_history_is_explained(bot: Harness) -> None:
    await bot.say("first")
    bot.model.fail_with = [errors.ContextTooLong("too long")]
    await bot.say("alone")
    assert "too long for the model" in bot.last()


async def test_empty_model_answer_is_said_plainly(bot: Harness) -> None:
    bot.model.pieces = ()
    await bot.say("hi")
    assert bot.last().startswith("The model returned an empty answer.")


async def test_each_user_gets_their_own_prompt(bot: Harness) -> None:
    await bot.say("/prompt You are Marv")
    await bot.say("hi")
    await bot.say("hi", sender=BOB)
    alice_request, bob_request = bot.model.requests
    assert alice_request.turns[0].text == "You are Marv"
    assert bob_request.turns[0].text == "You are a helpful assistant"


async def test_storage_failure_on_charge_still_delivers_and_tells_admin() -> None:
    bot = make_harness()
    await bot.say("register")
    bot.use_accounts(FailingDisk(bot.accounts))
    await bot.say("hi")
    await bot.service.drain()
    assert any("disk full" in t for t in bot.operator.notices)
    shown = bot.sink.texts(ALICE.id)[-1]
    assert shown.startswith("Hello, world")
    assert "Not charged: the bot cannot save its data" in shown
    assert "Tokens used" not in shown
    assert await bot.balance(ALICE.id) == 30_000 - 15  # "register" was charged, "hi" not
    assert await bot.accounts.held(ALICE.id) == 0


async def test_a_database_gone_still_finishes_the_answer_marked_not_charged() -> None:
    # Saving the charge fails, and so does giving the hold back (the same database): the
    # answer is still finished, once, marked "Not charged"; no "could not save" instead.
    bot = make_harness()
    await bot.say("register")
    bot.use_accounts(FailingDisk(bot.accounts, releases_fail=True))
    before = len(bot.sink.sent)
    await bot.say("hi")
    await bot.service.drain()
    (shown,) = bot.sink.sent[before:]
    assert shown.streamed
    assert shown.text.startswith("Hello, world")
    assert "Not charged: the bot cannot save its data" in shown.text
    assert await bot.balance(ALICE.id) == 30_000 - 15
    assert any("could not be given back (database gone)" in t for t in bot.operator.notices)


async def test_a_charge_that_fails_unexpectedly_still_finishes_the_answer() -> None:
    bot = make_harness()
    await bot.say("register")

    class Broken(FailingDisk):
        async def settle(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug in a store")

    bot.use_accounts(Broken(bot.accounts, broken=False))
    await bot.say("hi")
    assert bot.last().startswith("Hello, world")
    assert "Not charged" in bot.last()
    assert await bot.accounts.held(ALICE.id) == 0


async def test_admin_can_be_told_about_every_request() -> None:
    bot = make_harness(notify_requests=True, notify_new_users=True)
    await bot.say("what is 2+2?")
    await bot.service.drain()
    to_admin = bot.operator.notices
    assert "New user: Alice @alice (100)" in to_admin[0]
    assert "what is 2+2?" in to_admin[1]


async def set_balance(bot: Harness, user_id: str, balance: int) -> None:
    await bot.accounts.change(user_id, lambda a: attrs.evolve(a, balance=balance))


async def test_an_unexpected_failure_is_answered_free_and_the_bot_goes_on(bot: Harness) -> None:
    bot.model.fail_with = [RuntimeError("a bug in an adapter")]  # type: ignore[list-item]
    bot.model.fail_after_text = True
    await bot.say("hi")
    assert "went wrong" in bot.last()
    assert await bot.balance(ALICE.id) == 30_000
    assert (await bot.balance(ALICE.id) - await bot.accounts.held(ALICE.id)) == 30_000
    await bot.say("again")
    assert bot.last().startswith("Hello, world")


async def test_a_failing_messenger_does_not_stop_the_bot(bot: Harness) -> None:
    await bot.say("/start")
    bot.use_sink(BrokenMessenger())
    await bot.say("/balance")  # the sink raises; handle() must not
    assert (await bot.balance(ALICE.id) - await bot.accounts.held(ALICE.id)) == 30_000


async def test_a_failed_final_edit_does_not_claim_nothing_was_charged(bot: Harness) -> None:
    await bot.say("/start")
    bot.use_sink(FinishFails(bot.sink))
    await bot.say("hi")
    assert await bot.balance(ALICE.id) == 30_000 - 15  # the answer was produced and streamed
    assert not any("Nothing was charged" in t for t in bot.sink.texts())


async def test_an_answer_cut_inside_a_code_block_is_closed_before_the_footer(bot: Harness) -> None:
    bot.model.pieces = ("Here:\n```python\nprint(1)",)
    await bot.say("code please")
    assert bot.last() == "Here:\n```python\nprint(1)\n```\n\nTokens used: 15"
    answer = await bot.threads.get(ALICE.id, bot.sink.sent[-1].message_ids[0])
    assert answer is not None
    assert answer.text == "Here:\n```python\nprint(1)"  # as the model wrote it


async def test_an_unreachable_admin_does_not_spoil_a_paid_answer() -> None:
    bot = make_harness(notify_requests=True)
    await bot.say("/start")
    bot.service.notices.operator = UnreachableOperator()
    await bot.say("hi")
    await bot.service.drain()
    assert bot.last().startswith("Hello, world")
    assert not any("Nothing was charged" in t for t in bot.sink.texts())


async def test_an_answer_cut_off_at_the_cap_says_so_and_how_to_go_on(bot: Harness) -> None:
    bot.model.pieces = ("Steps:\n```sh\nls",)
    bot.model.cut_off = True
    await bot.say("list them all")
    assert bot.last() == (
        "Steps:\n```sh\nls\n```\n\n(The answer reached the length limit of 3 000 tokens. Reply "
        "to this message with “continue” for the rest.)\n\nTokens used: 15"
    )
    answer = await bot.threads.get(ALICE.id, bot.sink.sent[-1].message_ids[0])
    assert answer is not None
    assert answer.text == "Steps:\n```sh\nls"  # the thread keeps what the model wrote


async def test_an_answer_cut_off_by_the_balance_says_that_instead() -> None:
    bot = make_harness(starting_balance=300)
    bot.model.cut_off = True
    await bot.say("hi", sender=BOB)
    request = bot.model.requests[-1]
    assert request.max_tokens < 300
    assert f"Ответ остановлен на {request.max_tokens} токенах" in bot.last()


async def test_an_answer_that_ended_by_itself_gets_no_note(bot: Harness) -> None:
    await bot.say("hi")
    assert "length limit" not in bot.last()


# -- money at the edges: the least a hold needs, tokens taken away, a cancelled answer -----------


async def test_a_balance_of_exactly_the_least_an_answer_holds_is_answered(bot: Harness) -> None:
    await bot.say("register")
    await set_balance(bot, ALICE.id, 1)
    await bot.say("how are you?")
    found = re.search(r"needs about (\S+)\. ", bot.last())
    assert found is not None, bot.last()
    needed = int(re.sub(r"\D", "", found[1]))
    await set_balance(bot, ALICE.id, needed)
    await bot.say("how are you?")  # the same thread: the same least hold
    assert bot.last().startswith("Hello, world"), bot.last()
    assert await bot.balance(ALICE.id) == needed - 15
    assert await bot.accounts.held(ALICE.id) == 0


async def test_tokens_taken_away_mid_answer_leave_the_balance_at_zero_not_below() -> None:
    bot = make_harness()
    await bot.say("register")  # 15 tokens
    bot.model.gate, bot.model.arrived = asyncio.Event(), asyncio.Event()
    bot.model.usage = Usage(100, 2_000)
    answer = asyncio.create_task(bot.say("tell me everything"))
    await bot.model.arrived.wait()  # held, and waiting for the model
    await bot.say(f"/topup {ALICE.id} -29900", sender=Sender(ADMIN, "Admin"))
    assert await bot.balance(ALICE.id) == 85
    bot.model.gate.set()
    await answer
    account = await bot.account(ALICE.id)
    assert account.balance == 0  # charged what the balance still had, not the 2 100 used
    assert account.tokens == 15 + 85
    assert (await bot.totals()).tokens == 15 + 85
    assert await bot.accounts.held(ALICE.id) == 0


async def test_an_answer_cancelled_mid_stream_holds_and_charges_nothing(bot: Harness) -> None:
    await bot.say("register")
    before, totals = await bot.account(ALICE.id), await bot.totals()
    bot.model.gate, bot.model.arrived = asyncio.Event(), asyncio.Event()
    incoming = bot.message("tell me a long story")
    # The use case itself, as a shutdown cancels it (the ordering's worker is its caller).
    answering = asyncio.create_task(bot.service.answerer.answer(incoming, before, incoming.text))
    await bot.model.arrived.wait()
    assert await bot.accounts.held(ALICE.id) > 0  # the premise: it was holding tokens
    answering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answering
    assert await bot.accounts.held(ALICE.id) == 0
    assert await bot.account(ALICE.id) == before
    assert await bot.totals() == totals
