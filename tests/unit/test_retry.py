"""/retry: the person's last message in a chat answered again, charged again."""

from __future__ import annotations

from core import errors
from core.retrying import LastMessages
from core.texts import text
from core.values import Offer, Role
from tests.unit.conftest import ALICE, BOB, GROUP, Harness, make_harness

START = 30_000
CHARGE = 15  # ScriptedModel's usage: 10 + 5 tokens, at price 1
FOOTER = text("en", "footer", tokens=CHARGE)


async def test_a_failed_answer_offers_retry_and_retry_answers_and_charges(bot: Harness) -> None:
    bot.model.fail_with.append(errors.ModelUnavailable("503"))
    question = await bot.say("What is 2+2?")
    failed = bot.sink.sent[-1]
    assert failed.offer == Offer(text("en", "retry_button"), f"/retry {question.message_id}")
    assert await bot.balance(ALICE.id) == START  # nothing charged

    await bot.say(failed.offer.command)  # the button's command
    answer = bot.sink.sent[-1]
    assert answer.text == "Hello, world" + FOOTER
    assert answer.offer is None
    # Replying to the message it answers, in a private chat too.
    assert answer.reply_to == question.message_id
    assert await bot.balance(ALICE.id) == START - CHARGE
    first, again = bot.model.requests
    assert again.turns == first.turns
    node = await bot.threads.get(ALICE.id, answer.message_ids[0])
    assert node is not None
    assert (node.role, node.parent) == (Role.ASSISTANT, question.message_id)


async def test_retry_after_an_answer_answers_again_with_a_new_charge(bot: Harness) -> None:
    first = await bot.say("tell me a joke")
    await bot.say("/retry")
    await bot.say("/retry")
    answers = [s for s in bot.sink.sent if s.streamed]
    assert [a.text for a in answers] == ["Hello, world" + FOOTER] * 3
    assert [a.reply_to for a in answers[1:]] == [first.message_id] * 2
    account = await bot.account(ALICE.id)
    # Every charge shown is a charge saved.
    assert account.balance == START - 3 * CHARGE
    assert account.tokens == 3 * CHARGE
    assert account.requests == 3
    assert len(bot.model.requests) == 3


async def test_a_retry_keeps_the_thread_of_the_message(bot: Harness) -> None:
    await bot.say("my name is Alice")
    earlier = bot.sink.sent[-1].message_ids[0]
    await bot.say("what is my name?", reply_to=earlier)
    await bot.say("/retry")
    roles = [t.role for t in bot.model.requests[-1].turns]
    assert roles == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.USER]
    assert bot.model.requests[-1].turns == bot.model.requests[-2].turns


async def test_nothing_to_retry_is_said_plainly(bot: Harness) -> None:
    await bot.say("/retry")
    assert bot.last() == text("en", "retry_nothing")
    assert bot.model.requests == []


async def test_an_old_button_does_not_answer_a_newer_message(bot: Harness) -> None:
    bot.model.fail_with.append(errors.ModelTimeout("slow"))
    await bot.say("first")
    button = bot.sink.sent[-1].offer
    assert button is not None
    await bot.say("second")
    await bot.say(button.command)
    assert bot.last() == text("en", "retry_not_last")
    assert len(bot.model.requests) == 2


async def test_retry_is_per_person_and_chat(bot: Harness) -> None:
    await bot.say("alice asks in the group", chat_id=GROUP)
    await bot.say("/retry", sender=BOB, chat_id=GROUP)
    assert bot.last() == text("ru", "retry_nothing")
    await bot.say("/retry")  # Alice, in her private chat
    assert bot.last() == text("en", "retry_nothing")
    assert len(bot.model.requests) == 1


async def test_no_retry_is_offered_when_trying_again_cannot_help(bot: Harness) -> None:
    bot.model.fail_with.append(errors.AuthFailed("bad key"))
    await bot.say("hi")
    assert bot.sink.sent[-1].offer is None


async def test_a_retry_that_fails_again_charges_nothing_and_offers_again(bot: Harness) -> None:
    bot.model.fail_with += [errors.RateLimited("slow down"), errors.RateLimited("slow down")]
    question = await bot.say("hi")
    await bot.say("/retry")
    assert bot.sink.sent[-1].offer == Offer(
        text("en", "retry_button"), f"/retry {question.message_id}"
    )
    assert await bot.balance(ALICE.id) == START


async def test_a_retry_answers_in_the_current_mode() -> None:
    bot = make_harness()
    await bot.say("fix: teh cat")
    await bot.say("/mode editor")
    await bot.say("/retry")
    [system] = [t for t in bot.model.requests[-1].turns if t.role is Role.SYSTEM]
    assert system.text.startswith("You are a careful editor.")


def test_the_memory_forgets_the_least_recent_conversation_first() -> None:
    bot = make_harness()
    last = LastMessages(size=2)
    one, two, three = (bot.message(f"m{n}", chat_id=f"-{n}") for n in range(3))
    for each in (one, two, three):
        last.remember(each, each.text, ())
    assert last.of(one.chat_id, ALICE.id) is None
    assert last.of(three.chat_id, ALICE.id) is not None
