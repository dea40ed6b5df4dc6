"""Telethon's new-message events reduced to the core's ``Incoming``."""

from __future__ import annotations

import logging
from typing import Any

import attrs
from telethon import events
from telethon.tl import types

from core.values import Incoming, Sender

log = logging.getLogger(__name__)


@attrs.frozen
class BotIdentity:
    """Who the bot is, to recognise messages meant for it."""

    id: int
    username: str | None = None

    def named(self, username: str) -> bool:
        return self.username is not None and username.lower() == self.username.lower()


@attrs.frozen
class NotText:
    """A message without text (a sticker, a photo, a voice note): the core cannot read it."""

    chat_id: int
    message_id: int
    sender: Sender
    private: bool
    addressed: bool = False  # in a group: a reply to the bot, say; in private always


def read_event(event: events.NewMessage.Event, bot: BotIdentity) -> Incoming | NotText | None:
    """What ``event`` means for the bot; None for a message it must ignore.

    Ignored are the bot's own messages, channel posts and messages not written by a person
    (other bots, anonymous group admins): none of them have an account to charge.
    """
    message = event.message
    if message.out or message.post:
        return None
    user = message.sender
    if not isinstance(user, types.User):
        if message.sender_id is None or message.sender_id <= 0:
            return None
        user = None  # a user Telegram did not describe: keep the id, lose the name
    elif user.bot:
        return None
    sender = _sender(int(message.sender_id), user)
    private = bool(event.is_private)
    chat_id = int(event.chat_id)
    text: str = message.message or ""
    if not text.strip():
        addressed = private or _addressed(message, bot)
        return NotText(chat_id, int(message.id), sender, private, addressed)
    return Incoming(
        chat_id=chat_id,
        message_id=int(message.id),
        sender=sender,
        text=text,
        reply_to=replied_id(message),
        private=private,
        addressed=private or _addressed(message, bot),
    )


def replied_id(message: Any) -> int | None:
    """The id of the message ``message`` answers in its own chat, or None.

    A message in a forum topic carries the topic's first message as its "reply" even when it
    answers nothing; a reply to a message of another chat is no link of this chat's threads.
    """
    header = message.reply_to
    if not isinstance(header, types.MessageReplyHeader) or header.reply_to_msg_id is None:
        return None
    if header.reply_to_peer_id is not None:
        return None
    if header.forum_topic and header.reply_to_top_id is None:
        return None
    return int(header.reply_to_msg_id)


def _sender(user_id: int, user: Any) -> Sender:
    if user is None:
        return Sender(id=user_id)
    name = " ".join(part for part in (user.first_name, user.last_name) if part).strip()
    return Sender(
        id=user_id,
        name=name or None,
        username=(user.username or "").lstrip("@") or None,
        language=user.lang_code or None,
    )


def _addressed(message: Any, bot: BotIdentity) -> bool:
    """Whether a group message names the bot, commands it, or answers one of its messages."""
    for entity, fragment in message.get_entities_text():
        if isinstance(entity, types.MessageEntityMention):
            if bot.named(fragment.removeprefix("@")):
                return True
        elif isinstance(
            entity, (types.MessageEntityMentionName, types.InputMessageEntityMentionName)
        ):
            if getattr(entity, "user_id", None) == bot.id:
                return True
        elif isinstance(entity, types.MessageEntityBotCommand):
            _, at, target = fragment.partition("@")
            if not at or bot.named(target):
                return True
    # Telegram flags a message "mentioned" for the author of the message it replies to; the
    # header itself does not say whose message that was.
    return bool(message.mentioned) and replied_id(message) is not None
