"""Commands and who the bot answers in groups."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from adapters.storage.memory.stores import MemoryAccountStore
from core.commands import parse_command
from core.texts import LANGUAGES, text
from core.values import Account, Sender
from tests.unit.conftest import ADMIN, ALICE, BOB, GROUP, Harness, make_harness


@pytest.mark.parametrize(
    ("text", "name", "argument"),
    [
        ("/start", "start", ""),
        ("/Prompt  be brief ", "prompt", "be brief"),
        ("/prompt\nline two", "prompt", "line two"),
    ],
)
def test_parse_command(text: str, name: str, argument: str) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.argument) == (name, argument)


@pytest.mark.parametrize(
    "text", ["hello /start", "/", "/ start", "/start!", "//x", "/кот", "/balance@bot"]
)
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_every_language_has_every_text() -> None:
    keys = LANGUAGES["en"].texts.keys()
    assert all(language.texts.keys() == keys for language in LANGUAGES.values())


@pytest.mark.parametrize(
    ("count", "word"),
    [
        (1, "токен"),
        (21, "токен"),
        (3, "токена"),
        (17_094, "токена"),
        (11, "токенов"),
        (12, "токенов"),
        (25, "токенов"),
        (0, "токенов"),
    ],
)
def test_russian_plurals(count: int, word: str) -> None:
    assert text("ru", "balance", balance=count).endswith(f" {word}.")


async def test_start_registers_with_the_starting_balance(bot: Harness) -> None:
    await bot.say("/start")
    assert await bot.balance(ALICE.id) == 30_000
    assert "Alice" in bot.last()
    assert "30 000" in bot.last()
    assert "/prompt" in bot.last()


async def test_new_user_is_announced_to_the_admin() -> None:
    bot = make_harness(notify_new_users=True)
    await bot.say("/start")
    await bot.say("/start")
    await bot.service.drain()
    assert bot.operator.notices == ["New user: Alice @alice (100)"]


async def test_texts_follow_the_users_language(bot: Harness) -> None:
    await bot.say("/balance", sender=BOB)
    assert bot.last() == "Ваш баланс: 30 000 токенов."
    await bot.say("/balance", sender=Sender("300", "Pat"))
    assert bot.last() == "Your balance: 30 000 tokens."


async def test_default_language_is_configurable() -> None:
    bot = make_harness(default_language="ru")
    await bot.say("/help", sender=Sender("300", "Pat"))
    assert bot.last().startswith("Напишите сообщение")


async def test_balance_shows_what_is_left_after_answers(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/balance")
    assert bot.last() == "Your balance: 29 985 tokens."


@attrs.define
class SlowRegistration(MemoryAccountStore):
    """A registration stored at once but acknowledged only when ``durable`` is set, like the
    journal's fsync under load."""

    durable: asyncio.Event = attrs.field(factory=asyncio.Event)

    async def register(self, account: Account) -> Account:
        stored = await super().register(account)
        await self.durable.wait()
        return stored


@pytest.mark.parametrize("command", ["/balance", "/stats"])
async def test_first_contact_command_shows_a_charge_made_while_registering(command: str) -> None:
    """A first command and a message race (in a group, so they are two conversations): the
    answer is charged while the command's registration is being written, and the command must
    show the account as it is after that charge."""
    bot = make_harness()
    store = SlowRegistration()
    bot.accounts = store
    bot.use_accounts(store)
    showing = bot.service.submit(bot.message(command))
    await asyncio.sleep(0)
    await bot.say("hi", chat_id=GROUP)
    store.durable.set()
    await showing
    assert await bot.balance(ALICE.id) == 29_985
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


async def test_the_admins_stats_in_a_group_keep_the_totals_private(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/stats", sender=Sender(ADMIN, "Admin"), chat_id=GROUP)
    await bot.service.drain()
    assert "All users" not in bot.last()
    assert "private chat" in bot.last()
    assert "All users: 2" in bot.operator.notices[-1]


async def test_prompt_show_set_reset(bot: Harness) -> None:
    await bot.say("/prompt")
    assert "default system prompt" in bot.last()
    assert "You are a helpful assistant" in bot.last()
    await bot.say("/prompt You are Marv - a sarcastic reluctant assistant")
    await bot.say("/prompt")
    assert "You are Marv - a sarcastic reluctant assistant" in bot.last()
    await bot.say("/prompt reset")
    account = await bot.accounts.get(ALICE.id)
    assert account is not None
    assert account.prompt is None


async def test_prompt_over_the_limit_is_refused_and_changes_nothing(bot: Harness) -> None:
    await bot.say("/prompt short")
    await bot.say("/prompt " + "*_`[" * 12_500)
    assert "50 000 characters" in bot.last()
    account = await bot.accounts.get(ALICE.id)
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


async def test_a_command_in_a_group_replies_to_its_message(bot: Harness) -> None:
    incoming = await bot.say("/balance", chat_id=GROUP)
    assert bot.sink.sent[-1].reply_to == incoming.message_id
    assert "30 000" in bot.last()


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
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
    # A lone surrogate (invalid UTF-8 from a terminal) could never be written back: it becomes
    # U+FFFD at the door, and the charge is saved like any other.
    assert bot.model.requests[-1].turns[-1].text == text.replace("\ud83d", "\ufffd")
    assert "Tokens used" in bot.last()


async def test_the_admin_tops_up_a_balance(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/topup 100 5000", sender=Sender(ADMIN, "Admin"))
    assert bot.last() == "Alice @alice (100) now has 34 985 tokens."
    assert await bot.balance(ALICE.id) == 34_985
    await bot.say("/topup 100 5000")  # not the admin
    assert bot.last() == "Only the bot's admin can do that."
    assert await bot.balance(ALICE.id) == 34_985


@pytest.mark.parametrize(
    "argument", ["", "100", "100 lots", "100 0", "100 ５", "100 1e6", "1 2 3", "100 " + "9" * 20]
)
async def test_a_malformed_topup_explains_itself(bot: Harness, argument: str) -> None:
    await bot.say("hi")
    await bot.say(f"/topup {argument}", sender=Sender(ADMIN, "Admin"))
    assert bot.last().startswith("Usage: /topup")
    assert await bot.balance(ALICE.id) == 29_985


async def test_a_topup_for_an_unknown_user_changes_nothing(bot: Harness) -> None:
    await bot.say("/topup 999 5000", sender=Sender(ADMIN, "Admin"))
    assert "999 has not written to the bot" in bot.last()
    assert await bot.accounts.get("999") is None


async def test_a_negative_topup_takes_tokens_away_never_below_zero(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/topup 100 -985", sender=Sender(ADMIN, "Admin"))
    assert await bot.balance(ALICE.id) == 29_000
    await bot.say("/topup 100 -99999", sender=Sender(ADMIN, "Admin"))
    assert bot.last() == "Alice @alice (100) now has 0 tokens."


async def test_a_banned_user_is_refused_until_unbanned(bot: Harness) -> None:
    await bot.say("hi")
    await bot.say("/ban 100", sender=Sender(ADMIN, "Admin"))
    await bot.say("hello?")
    assert bot.last() == "The bot's admin has closed this bot to you."
    assert len(bot.model.requests) == 1
    await bot.say("/unban 100", sender=Sender(ADMIN, "Admin"))
    await bot.say("hello?")
    assert bot.last().startswith("Hello, world")


async def test_the_admins_help_lists_the_admin_commands(bot: Harness) -> None:
    await bot.say("/help")
    assert "/topup" not in bot.last()
    await bot.say("/help", sender=Sender(ADMIN, "Admin"))
    for command in ("/topup", "/ban", "/unban", "/stop"):
        assert command in bot.last()


async def test_a_topup_lets_a_negative_legacy_balance_spend_again(bot: Harness) -> None:
    await bot.say("hi")
    await bot.accounts.change(ALICE.id, lambda a: attrs.evolve(a, balance=-300))
    await bot.say("hello?")
    assert "Not enough tokens: you have -300 available" in bot.last()
    await bot.say("/topup 100 1000", sender=Sender(ADMIN, "Admin"))
    await bot.say("hello?")
    assert bot.last().startswith("Hello, world")
    assert await bot.balance(ALICE.id) == 700 - 15
