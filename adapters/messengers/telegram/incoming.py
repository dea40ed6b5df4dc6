"""Telethon's new-message events reduced to what the bot should do with them.

The group rules are the messengers' shared ones (``adapters.messengers.addressing``): in a
private chat every message is for the bot; in a group one that starts with the bot's command
(``/balance``, ``/balance@thisbot``; not another bot's), mentions the bot (``@thisbot``, or a
mention by name) or replies to one of its messages. Telegram marks commands and mentions
itself (message entities); this module reads them. The core then gets the text without the
bot's mention and with its commands as ``/name rest``.

Voice notes, audio files, photos and other files come to the core as an ``Attachment``
(``attachments``), their caption as the text (empty when there is none). In a group they follow
the same rules: a caption that addresses the bot, or a reply to the bot, a voice note too.

Messages the core cannot act on get an answer from the adapter itself (``Refusal``): stickers,
videos, polls and other media it cannot use (in private chats, or in a group when the caption
addresses the bot: a sticker answering the bot in a group is someone's reaction), and messages
sent on behalf of a group or channel (anonymous admins, channel senders), which have no
person's balance to pay for an answer.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from telethon import events, helpers
from telethon.tl import types

from adapters.messengers.addressing import BotAddress, split_command, without
from adapters.messengers.telegram.attachments import UNSUPPORTED, describe
from core.values import Attachment, Incoming, Sender

log = logging.getLogger(__name__)


@attrs.frozen
class BotIdentity:
    """Who the bot is, to recognise messages meant for it, and the commands it knows."""

    id: int
    username: str | None = None
    commands: frozenset[str] | None = None  # None: take any command as ours

    @property
    def address(self) -> BotAddress:
        return BotAddress(self.username, self.commands)

    def named(self, username: str) -> bool:
        return self.address.named(username)


@attrs.frozen
class Refusal:
    """A message the adapter answers itself with the core's text ``key``."""

    chat_id: int
    message_id: int
    private: bool
    language: str | None
    key: str  # "message_unsupported", "anonymous_sender"


@attrs.frozen
class Reading:
    """What a message means for the bot. ``check_reply``: the id of the message it replies
    to, when only fetching that message can tell whether it is the bot's (and so whether this
    one is meant for the bot)."""

    item: Incoming | Refusal
    check_reply: int | None = None

    @property
    def chat_id(self) -> int:
        """The chat, as Telegram numbers it."""
        return int(self.item.chat_id)


def read_event(
    event: events.NewMessage.Event, bot: BotIdentity, sent: Any = frozenset()
) -> Reading | None:
    """What ``event`` means for the bot; None for a message it must ignore.

    ``sent`` holds (chat id, message id) of the messages the bot sent lately.
    """
    message = event.message
    if message.out or message.post:
        return None  # the bot's own, or a channel's broadcast
    private = bool(event.is_private)
    chat_id = int(event.chat_id)
    addressed, check_reply = _addressed(message, bot, chat_id, sent, private)
    if addressed is None:
        return None
    user = message.sender
    if isinstance(user, types.User) and user.bot:
        return None  # other bots: no account, and two bots could talk forever
    sender_id = message.sender_id
    language = getattr(user, "lang_code", None)

    def refuse(key: str) -> Reading:
        return Reading(Refusal(chat_id, int(message.id), private, language, key), check_reply)

    if sender_id is None or int(sender_id) <= 0:
        # Sent as the group itself (an anonymous admin) or as a channel: no person to charge.
        log.info(
            "chat %s: message %s was sent on behalf of %s; refusing it",
            chat_id,
            message.id,
            sender_id,
        )
        return refuse("anonymous_sender")
    text: str = message.message or ""
    attachment = describe(int(message.id), message.media)
    if attachment is UNSUPPORTED:
        # Without a caption, in a group: a reaction (a sticker answering the bot), not a request.
        return refuse("message_unsupported") if private or text.strip() else None
    attachments = (attachment,) if isinstance(attachment, Attachment) else ()
    if not text.strip() and not attachments:
        return refuse("message_unsupported") if private else None  # a service message, say
    sender = _sender(int(sender_id), user)
    cleaned = _clean(message, text, bot)
    replied = replied_id(message)
    incoming = Incoming(
        chat_id=str(chat_id),
        message_id=str(message.id),
        sender=sender,
        text=cleaned,
        reply_to=None if replied is None else str(replied),
        private=private,
        attachments=attachments,
    )
    return Reading(incoming, check_reply)


def read_press(event: events.CallbackQuery.Event) -> Incoming | None:
    """A press on one of the bot's buttons (``stream.button``) as the command it carries, from
    whoever pressed it, in that chat; None for data that is no command of this bot's."""
    try:
        data = bytes(event.data or b"").decode()
    except UnicodeDecodeError:
        return None
    if not data.startswith("/") or event.sender_id is None:
        return None
    return Incoming(
        chat_id=str(event.chat_id),
        message_id=str(event.message_id),  # the message the button is under
        sender=_sender(int(event.sender_id), event.sender),
        text=data,
        private=bool(event.is_private),
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
    if not isinstance(user, types.User):
        return Sender(id=str(user_id))  # a user Telegram did not describe: keep the id
    name = " ".join(part for part in (user.first_name, user.last_name) if part).strip()
    return Sender(
        id=str(user_id),
        name=name or None,
        username=(user.username or "").lstrip("@") or None,
        language=user.lang_code or None,
    )


def _addressed(
    message: Any, bot: BotIdentity, chat_id: int, sent: Any, private: bool
) -> tuple[bool | None, int | None]:
    """(True, None) for a message meant for the bot, (True, id) when only the message it
    replies to (``id``) can tell, (None, None) for one to ignore."""
    for entity, fragment in message.get_entities_text():
        if isinstance(entity, types.MessageEntityBotCommand) and entity.offset == 0:
            name, target = split_command(fragment)
            if not bot.address.takes(name, target, private=private):
                return None, None  # another bot's command
            return True, None
    if private:
        return True, None
    if _mentions(message, bot):
        return True, None
    replied = replied_id(message)
    if replied is None:
        return None, None
    # Telegram flags a reply "mentioned" for the author of the message it answers.
    if message.mentioned or (chat_id, replied) in sent:
        return True, None
    return True, replied


def _mentions(message: Any, bot: BotIdentity) -> bool:
    return any(_is_bot_mention(entity, fragment, bot) for entity, fragment in _entities(message))


def _entities(message: Any) -> list[tuple[Any, str]]:
    return list(message.get_entities_text())


def _is_bot_mention(entity: Any, fragment: str, bot: BotIdentity) -> bool:
    if isinstance(entity, types.MessageEntityMention):
        return bot.named(fragment.removeprefix("@"))
    if isinstance(entity, (types.MessageEntityMentionName, types.InputMessageEntityMentionName)):
        return getattr(entity, "user_id", None) == bot.id
    return False


def _clean(message: Any, text: str, bot: BotIdentity) -> str:
    """``text`` without the bot's mentions, its leading command as ``/name rest``."""
    cuts: list[tuple[int, int]] = []
    for entity, fragment in _entities(message):
        if _is_bot_mention(entity, fragment, bot):
            cuts.append((entity.offset, entity.offset + entity.length))
        elif isinstance(entity, types.MessageEntityBotCommand) and entity.offset == 0:
            at = fragment.find("@")
            if at >= 0:
                # In UTF-16 units: a command is ASCII, so its characters are its units.
                cuts.append((entity.offset + at, entity.offset + entity.length))
    if not cuts:
        return text
    # Offsets are in UTF-16 units: cut the text in those units.
    return str(helpers.del_surrogate(without(helpers.add_surrogate(text), cuts)))
