"""Which Matrix messages are for the bot, and what the core gets of them."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.messengers.matrix.addressing import Reading, read, without_fallback

BOT = "@bot:example.org"


def reading(content: dict[str, Any], members: int = 3, bot_events: tuple[str, ...] = ()) -> Reading:
    return read(
        content,
        bot_id=BOT,
        bot_name="GPT Bot",
        members=members,
        bot_events=bot_events,
        known_commands={"balance", "help"},
    )


def test_every_message_of_a_room_of_two_is_for_the_bot() -> None:
    assert reading({"body": " hello "}, members=2) == Reading(True, "hello")


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ({"body": "GPT Bot: hello", "m.mentions": {"user_ids": [BOT]}}, "hello"),
        ({"body": "hey GPT Bot, how are you"}, "hey how are you"),
        ({"body": f"{BOT} hi"}, "hi"),
        ({"body": "!balance"}, "/balance"),
        ({"body": "/help me"}, "/help me"),
    ],
)
def test_in_a_group_mentions_and_known_commands_are_for_the_bot(
    content: dict[str, Any], text: str
) -> None:
    assert reading(content) == Reading(True, text)


@pytest.mark.parametrize(
    "content", [{"body": "just talking"}, {"body": "/weather"}, {"body": "!ban someone"}, {}]
)
def test_in_a_group_other_messages_are_not(content: dict[str, Any]) -> None:
    assert not reading(content).for_bot


def test_a_reply_to_the_bot_is_for_it_without_the_quoted_fallback() -> None:
    content = {
        "body": "> <@bot:example.org> an earlier answer\n> more of it\n\nand then?",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$answer"}},
    }
    assert reading(content, bot_events=("$answer",)) == Reading(True, "and then?", "$answer")
    assert not reading(content, bot_events=("$other",)).for_bot


def test_without_fallback_keeps_a_message_that_quotes_nothing() -> None:
    assert without_fallback("plain\n> not a fallback") == "plain\n> not a fallback"
