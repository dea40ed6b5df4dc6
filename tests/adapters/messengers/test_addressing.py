"""The addressing rules every messenger shares: which commands are the bot's, and the text
once the bot's name is taken out."""

from __future__ import annotations

import pytest

from adapters.messengers.addressing import BotAddress, leading_command, split_command, without

BOT = BotAddress("GptBot", frozenset({"balance", "help"}))


@pytest.mark.parametrize(
    ("command", "private", "takes"),
    [
        ("/balance", False, True),
        ("/BALANCE", False, True),
        ("/balance@gptbot", False, True),  # named: in any case
        ("/weather@gptbot", False, True),  # named: ours to answer, even unknown
        ("/balance@otherbot", False, False),
        ("/balance@otherbot", True, False),  # another bot's even in a private chat
        ("/weather", False, False),  # bare and unknown in a group: another bot's
        ("/weather", True, True),  # private: only we can be meant ("Unknown command")
    ],
)
def test_whose_command(command: str, private: bool, takes: bool) -> None:
    name, target = split_command(command)
    assert BOT.takes(name, target, private=private) is takes


def test_a_bot_that_knows_no_list_takes_any_bare_command() -> None:
    assert BotAddress("gptbot").takes("weather", None, private=False)


def test_a_command_is_only_at_the_start() -> None:
    word = leading_command("/balance@gptbot now")
    assert word is not None
    assert (word.name, word.target) == ("balance", "gptbot")
    assert "/balance@gptbot now"[word.at : word.end] == "@gptbot"
    assert leading_command("I typed /balance yesterday") is None
    assert leading_command("/path/to/file") is None
    bare = leading_command("/help")
    assert bare is not None
    assert (bare.target, bare.at, bare.end) == (None, 5, 5)


def test_mentions_are_the_whole_name_only() -> None:
    text = "@gptbot hi @GPTBOT, @gptbotfan and mail@gptbot"
    assert BOT.mentions(text) == [(0, 7), (11, 18)]
    assert BotAddress(None).mentions(text) == []


@pytest.mark.parametrize(
    ("text", "core_gets"),
    [
        ("hey @gptbot, tell me", "hey, tell me"),
        ("@gptbot, tell me", "tell me"),
        ("@gptbot: tell me", "tell me"),
        ("@gptbot tell me", "tell me"),
        ("ask @gptbot now", "ask now"),
        ("tell me, @gptbot.", "tell me."),
        ("thanks, @gptbot", "thanks"),
        ("what is 2+2 @gptbot?", "what is 2+2?"),
        ("hi @gptbot\nsecond line", "hi\nsecond line"),
        ("@gptbot, hey @gptbot, twice", "hey, twice"),
        ("/balance@gptbot now", "/balance now"),
        ("/help@gptbot", "/help"),
    ],
)
def test_the_text_reads_as_written_without_the_name(text: str, core_gets: str) -> None:
    cuts = BOT.mentions(text)
    word = leading_command(text)
    if word is not None:
        cuts.append((word.at, word.end))
    assert without(text, cuts) == core_gets
