"""Which Matrix messages are for the bot, and the text the core gets of them.

In a room of two (the bot and one person) every message is for the bot. In a larger room a
message is when it mentions the bot (``m.mentions``, or the bot's name or id in the text, as a
pill's fallback is), replies to one of the bot's messages, or is a command the bot knows.
Commands start with ``/`` as on Telegram or ``!`` as Matrix bots' custom is; the core gets
``/name argument``. A reply carries the quoted message as ``> `` lines first (the fallback of
older clients): they are not the person's words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import attrs

_COMMAND = re.compile(r"^[/!]([A-Za-z0-9_]{1,32})(?=\s|$)")


@attrs.frozen
class Reading:
    """What the bot makes of a message: for it or not, and the text the core gets."""

    for_bot: bool
    text: str = ""
    reply_to: str | None = None  # the event id it replies to


def replied_event(content: Mapping[str, Any]) -> str | None:
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping):
        return None
    reply = relates.get("m.in_reply_to")
    if not isinstance(reply, Mapping):
        return None
    event_id = reply.get("event_id")
    return event_id if isinstance(event_id, str) else None


def without_fallback(body: str) -> str:
    """``body`` without the quoted lines a reply starts with."""
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def read(
    content: Mapping[str, Any],
    *,
    bot_id: str,
    bot_name: str | None,
    members: int,
    bot_events: Collection[str],
    known_commands: Collection[str],
) -> Reading:
    """How the bot reads the text message ``content`` in a room of ``members`` people."""
    body = content.get("body")
    if not isinstance(body, str):
        return Reading(False)
    reply_to = replied_event(content)
    text = without_fallback(body) if reply_to is not None else body.strip()
    names = [bot_id] + ([bot_name] if bot_name else [])
    mentioned = _mentioned(content, bot_id) or any(n and n in text for n in names)
    if mentioned:
        text = _without_names(text, names)
    command = _COMMAND.match(text)
    if command is not None:
        text = "/" + text[1:]
    if members <= 2:
        return Reading(True, text, reply_to)
    known = command is not None and command.group(1).lower() in known_commands
    for_bot = mentioned or known or (reply_to is not None and reply_to in bot_events)
    return Reading(for_bot, text if for_bot else "", reply_to)


def _mentioned(content: Mapping[str, Any], bot_id: str) -> bool:
    mentions = content.get("m.mentions")
    if not isinstance(mentions, Mapping):
        return False
    users = mentions.get("user_ids")
    return isinstance(users, list) and bot_id in users


def _without_names(text: str, names: list[str]) -> str:
    """``text`` with the bot's name taken out, and the punctuation that addressed it: "Bot:
    hello" and "hey Bot, hello" become "hello" and "hey hello"."""
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(re.escape(name) + r"\s*[:,]?", " ", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
