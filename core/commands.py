"""Recognising commands in message text: ``/name``, ``/name@bot``, with an argument."""

from __future__ import annotations

import re

import attrs

# Telegram's command grammar: a slash, up to 32 latin letters, digits or underscores, and an
# optional @username of the bot it is meant for.
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")

KNOWN = ("start", "help", "balance", "stats", "prompt", "stop", "topup")


@attrs.frozen
class Command:
    name: str  # lower case
    target: str | None  # the @bot the command names, without the "@"
    argument: str  # the rest of the text, stripped

    def is_for(self, bot_username: str | None) -> bool:
        """Whether this bot should act on it: no target, or a target naming this bot."""
        if self.target is None:
            return True
        return bot_username is not None and self.target.lower() == bot_username.lower()


def parse_command(text: str) -> Command | None:
    """The command at the start of ``text``, or None when the text is not a command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    name, target = match.group(1), match.group(2)
    return Command(name=name.lower(), target=target, argument=text[match.end() :].strip())
