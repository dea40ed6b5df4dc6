"""Whether a message is meant for the bot, and its text without the bot's name: the rules every
messenger with groups, commands and mentions shares (Telegram's, the console's), so that the
bot answers the same message the same way wherever it runs.

In a private chat every message is for the bot. In a group a message is for the bot when it
- starts with a command, bare (``/balance``) or naming this bot (``/balance@thisbot``); a
  command that names another bot (``/balance@otherbot``) is never the bot's, not even in a
  private chat, and a bare command the bot does not know (``/weather``) is another bot's in a
  group and left to it;
- mentions the bot;
- replies to one of the bot's messages.

How a messenger finds its commands and mentions (Telegram's entities, the console's plain
text) stays in the messenger; what they mean, and how the text reads once the bot's name is
taken out, is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

# A command at the start of a message as people type it: /name or /name@bot, then a space or
# the end. Telegram's own limit on names is 32 characters.
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?=\s|$)")
# What may follow a name used as a form of address: "@bot, tell me", "@bot: do this".
_AFTER_ADDRESS = re.compile(r"^[ \t]*[,:;—–]?[ \t]*")
_CLOSING = ",.!?;:…)]»"  # punctuation that sticks to the word before it


@attrs.frozen
class CommandWord:
    """A command at the start of a message: its name, the bot it names (None: bare), and
    where its ``@bot`` part lies in the text (``at`` to ``end``), to be taken out."""

    name: str
    target: str | None
    at: int
    end: int


def leading_command(text: str) -> CommandWord | None:
    """The command a message starts with, for messengers that mark none themselves; None
    when it does not start with one ("I typed /balance" is no command)."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    at = match.end(1)
    return CommandWord(match.group(1), match.group(2), at, match.end())


def split_command(word: str) -> tuple[str, str | None]:
    """``/name@bot`` as (name, bot), ``/name`` as (name, None)."""
    name, at, target = word.partition("@")
    return name.removeprefix("/"), target if at else None


@attrs.frozen
class BotAddress:
    """The bot as people address it: its username, and the commands it knows (None: take any
    command as its own)."""

    username: str | None
    commands: frozenset[str] | None = None

    def named(self, username: str) -> bool:
        """Whether ``username`` (without "@") is this bot's, in any case."""
        return self.username is not None and username.lower() == self.username.lower()

    def takes(self, name: str, target: str | None, *, private: bool) -> bool:
        """Whether a command at the start of a message (``/name`` or ``/name@target``) is this
        bot's to answer."""
        if target is not None:
            return self.named(target)
        known = self.commands is None or name.lower() in self.commands
        return private or known

    def mentions(self, text: str) -> list[tuple[int, int]]:
        """Where ``@username`` mentions of the bot lie in plain ``text`` ("@botfan" is not
        one), for messengers that mark none themselves."""
        if self.username is None:
            return []
        mention = re.compile(rf"(?<!\w)@{re.escape(self.username)}(?!\w)", re.IGNORECASE)
        return [match.span() for match in mention.finditer(text)]


def without(text: str, cuts: Iterable[tuple[int, int]]) -> str:
    """``text`` with the spans ``cuts`` (the bot's mentions, the ``@bot`` of its command)
    taken out and the words around them joined as a person would have written them: "hey
    @bot, tell me" becomes "hey, tell me"; "@bot: tell me", "tell me"; "ask @bot now", "ask
    now". Offsets are indices of ``text`` (a messenger counting in UTF-16 units passes its
    text in those units)."""
    for start, end in sorted(set(cuts), reverse=True):
        text = _join(text[:start], text[end:])
    return text.strip()


def _join(before: str, after: str) -> str:
    if not before.strip():  # the name opened the message: "@bot, tell me"
        return before + _AFTER_ADDRESS.sub("", after, count=1)
    if not after.strip():  # the name closed it: "thanks, @bot"
        return before.rstrip().rstrip(",:;—–").rstrip() + after
    if after[0] in _CLOSING:
        before = before.rstrip(" \t")
        if before[-1] in ",:;" and after[0] in ",.!?;:":  # "tell me, @bot." is "tell me."
            before = before[:-1]
        return before + after
    if after[0] in " \t" and before[-1] in " \t":
        return before + after.lstrip(" \t")
    if after[0] == "\n":
        return before.rstrip(" \t") + after
    return before + after
