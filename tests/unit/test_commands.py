"""Commands and who the bot answers in groups."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import attrs
import pytest

from adapters.storage.memory import MemoryAccountStore
from core.commands import parse_command
from core.texts import EN, RU
from core.values import Account, Sender, Totals
from tests.unit.conftest import ADMIN, ALICE, BOB, GROUP, Harness, make_harness


@pytest.mark.parametrize(
    ("text", "name", "target", "argument"),
    [
        ("/start", "start", None, ""),
        ("/Prompt@TestBot  be brief ", "prompt", "TestBot", "be brief"),
        ("/prompt\nline two", "prompt", None, "line two"),
        ("/balance@otherbot", "balance", "otherbot", ""),
    ],
)
def test_parse_command(text: str, name: str, target: str | None, argument: str) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.target, command.argument) == (name, target, argument)


@pytest.mark.parametrize("text", ["hello /start", "/", "/ start", "/start!", "//x", "/кот"])
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_both_languages_have_every_text() -> None:
    assert EN.keys() == RU.keys()


async def test_start_registers_with_the_starting_balance(bot: Harness) -> None:
    await bot.say("/start")
    assert bot.balance(ALICE.id) == 30_000
    assert "Alice" in bot.last()
    assert "30 000" in bot.last()
    assert "/prompt" in bot.last()


async def test_new_user_is_announced_to_the_admin() -> None:
    bot = make_harness(notify_new_users=True)
    await bot.say("/start")
    await bot.say("/start")
    assert bot.sink.texts(ADMIN) == ["New user: Alice @alice (100)"]


async def test_texts_follow_the_users_language(bot: Harness) -> None:
    await bot.say("/balance", sender=BOB)
    assert bot.last() == "Ваш баланс: 30 000 токенов."
    await bot.say("/balance", sender=Sender(300, "Pat"))
    assert bot.last() == "Your balance: 30 000 tokens."


async def test_default_language_is_configurable() -> None:
    bot = make_harness(default_language="ru")
    await bot.say("/help", sender=Sender(300, "Pat"))
    assert bot.last().startswith("Напишите сообщение")


async def test_balance_shows_what_is_left_after_answers(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/balance")
    assert bot.last() == "Your balance: 29 985 tokens."


@attrs.define
class SlowSaves(MemoryAccountStore):
    """Saves applied at once but done a few loop turns later, like the journal's fsync."""

    async def save(self, accounts: Sequence[Account], totals: Totals | None = None) -> None:
        await super().save(accounts, totals)
        for _ in range(5):
            await asyncio.sleep(0)


@pytest.mark.parametrize("command", ["/balance", "/stats"])
async def test_first_contact_command_shows_a_charge_made_while_registering(command: str) -> None:
    """A first message and a command race: the command's registration save lets the answer be
    charged meanwhile, and the command must show the account as it is after that charge."""
    bot = make_harness()
    bot.accounts = bot.service.accounts = SlowSaves()
    answering = asyncio.create_task(bot.service.handle(bot.message("hi")))
    await bot.say(command)
    await answering
    assert bot.balance(ALICE.id) == 29_985
    (reply,) = [sent.text for sent in bot.sink.sent if not sent.streamed]
    assert "29 985" in reply, reply


async def test_stats_are_own_and_global_for_the_admin(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/stats")
    assert "Your requests: 1" in bot.last()
    assert "All requests" not in bot.last()
    await bot.say("/stats", sender=Sender(ADMIN, "Admin"))
    assert "All users: 2" in bot.last()
    assert "All tokens: 15" in bot.last()


async def test_prompt_show_set_reset(bot: Harness) -> None:
    await bot.say("/prompt")
    assert "default system prompt" in bot.last()
    assert "You are a helpful assistant" in bot.last()
    await bot.say("/prompt You are Marv - a sarcastic reluctant assistant")
    await bot.say("/prompt")
    assert "You are Marv - a sarcastic reluctant assistant" in bot.last()
    await bot.say("/prompt reset")
    account = bot.accounts.get(ALICE.id)
    assert account is not None
    assert account.prompt is None


async def test_prompt_over_the_limit_is_refused_and_changes_nothing(bot: Harness) -> None:
    await bot.say("/prompt short")
    await bot.say("/prompt " + "*_`[" * 12_500)
    assert "50 000 characters" in bot.last()
    account = bot.accounts.get(ALICE.id)
    assert account is not None
    assert account.prompt == "short"


async def test_stop_is_admin_only(bot: Harness) -> None:
    await bot.say("/stop")
    assert "Only the bot's admin" in bot.last()
    assert not bot.service.stopping
    await bot.say("/stop", sender=Sender(ADMIN, "Admin"))
    assert bot.service.stopping
    await bot.say("anyone there?")
    assert "shutting down" in bot.last()
    assert bot.model.requests == []


async def test_unknown_command_points_to_help(bot: Harness) -> None:
    await bot.say("/frobnicate now")
    assert bot.last() == "Unknown command /frobnicate. See /help."


async def test_commands_for_another_bot_are_ignored(bot: Harness) -> None:
    await bot.say("/balance@otherbot", chat_id=GROUP)
    await bot.say("/balance@otherbot")
    assert bot.sink.sent == []


async def test_command_with_our_suffix_works_in_groups(bot: Harness) -> None:
    await bot.say("/balance@TestBot", chat_id=GROUP, addressed=True)
    assert bot.sink.sent[-1].reply_to is not None  # in groups, a reply to the user
    assert "30 000" in bot.last()


async def test_bare_unknown_command_in_a_group_is_left_to_other_bots(bot: Harness) -> None:
    await bot.say("/weather", chat_id=GROUP, addressed=True)
    assert bot.sink.sent == []


async def test_group_message_not_addressed_is_ignored(bot: Harness) -> None:
    await bot.say("just chatting", chat_id=GROUP, addressed=False)
    assert bot.sink.sent == []
    assert bot.accounts.get(ALICE.id) is None


async def test_group_mention_is_answered_without_the_mention(bot: Harness) -> None:
    incoming = await bot.say("@testbot what is up?", chat_id=GROUP, addressed=True)
    assert bot.model.requests[-1].turns[-1].text == "what is up?"
    assert bot.sink.sent[-1].reply_to == incoming.message_id


async def test_group_reply_to_the_bot_is_answered(bot: Harness) -> None:
    await bot.say("@testbot hi", chat_id=GROUP, addressed=True)
    answer = bot.sink.sent[-1].message_ids[0]
    await bot.say("and then?", chat_id=GROUP, reply_to=answer, addressed=False)
    assert len(bot.model.requests) == 2
    assert len(bot.model.requests[-1].turns) == 4


async def test_group_reply_to_another_user_is_not_for_the_bot(bot: Harness) -> None:
    question = await bot.say("@testbot hi", chat_id=GROUP, addressed=True)
    await bot.say(
        "I agree", sender=BOB, chat_id=GROUP, reply_to=question.message_id, addressed=False
    )
    assert len(bot.model.requests) == 1


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "@testbot"])
async def test_empty_text_gets_a_clear_answer(bot: Harness, text: str) -> None:
    await bot.say(text)
    assert bot.last() == "Send me some text and I will answer it."
    assert bot.model.requests == []


@pytest.mark.parametrize(
    "text", ["🙂👍🏽 привет", "مرحبا بالعالم", "zero\u200bwidth\u200d", "\ud83d"]
)
async def test_odd_characters_are_answered(bot: Harness, text: str) -> None:
    await bot.say(text)
    assert bot.last().startswith("Hello, world")
    assert bot.model.requests[-1].turns[-1].text == text


async def test_the_admin_tops_up_a_balance(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/topup 100 5000", sender=Sender(ADMIN, "Admin"))
    assert bot.last() == "Alice @alice (100) now has 34 985 tokens."
    assert bot.balance(ALICE.id) == 34_985
    await bot.say("/topup 100 5000")  # not the admin
    assert bot.last() == "Only the bot's admin can do that."
    assert bot.balance(ALICE.id) == 34_985


@pytest.mark.parametrize("argument", ["", "100", "100 lots", "100 -5", "100 0", "x 5", "1 2 3"])
async def test_a_malformed_topup_explains_itself(bot: Harness, argument: str) -> None:
    await bot.say("hi")
    await bot.say(f"/topup {argument}", sender=Sender(ADMIN, "Admin"))
    assert bot.last().startswith("Usage: /topup")
    assert bot.balance(ALICE.id) == 29_985


async def test_a_topup_for_an_unknown_user_changes_nothing(bot: Harness) -> None:
    await bot.say("/topup 999 5000", sender=Sender(ADMIN, "Admin"))
    assert "999 has not written to the bot" in bot.last()
    assert bot.accounts.get(999) is None


async def test_a_topup_lets_a_negative_legacy_balance_spend_again(bot: Harness) -> None:
    await bot.say("hi")
    account = bot.accounts.get(ALICE.id)
    assert account is not None
    await bot.accounts.save([attrs.evolve(account, balance=-300)])
    await bot.say("hello?")
    assert "Not enough tokens" in bot.last()
    await bot.say("/topup 100 1000", sender=Sender(ADMIN, "Admin"))
    await bot.say("hello?")
    assert bot.last().startswith("Hello, world")
    assert bot.balance(ALICE.id) == 700 - 15
