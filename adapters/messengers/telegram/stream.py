"""One answer shown as it grows: a live draft in private chats, an edited message in groups.

A live draft (``messages.setTyping`` with ``SendMessageTextDraftAction``, Telegram's "live
response streaming" for AI bots) is an ephemeral preview pinned to the bottom of a private
chat. It has no edit flood limits, so it can follow the model closely, but clients drop it after
a time to live or when a real message arrives: a long answer's draft is refreshed, and the
answer is always sent as real messages at the end. The draft offers a stop button; when the
person presses it, the next ``update`` raises ``AnswerStopped``.

Where drafts cannot go (groups) or are refused, the answer is a message sent at the first text
and then edited, at most once per interval, never with an edit that changes nothing, and quiet
during the chat's FloodWait; the model keeps streaming meanwhile.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable

from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.split import Part, parts_of
from adapters.messengers.telegram.text import head, tail
from adapters.messengers.telegram.writer import FLOODS, Writer
from core.errors import AnswerStopped
from core.values import Offer

log = logging.getLogger(__name__)

# Clients drop a draft some seconds after its last update (message_typing_draft_ttl, about 30 s):
# a draft is sent again when it has not changed for this long.
DRAFT_REFRESH = 20.0


class Mode(enum.StrEnum):
    """``STREAM_MODE``: how answers grow on screen."""

    AUTO = "auto"  # drafts in private chats, edits in groups (the default)
    DRAFT = "draft"  # the same today: Telegram takes drafts only in private chats
    EDIT = "edit"  # edits everywhere


class TelegramStream:
    """``core.ports.ReplyStream`` for one answer in one chat."""

    def __init__(
        self,
        writer: Writer,
        chat_id: int,
        reply_to: int | None,
        *,
        draft: bool,
        interval: float,
        limit: int,
        random_id: int,
        showing: Callable[[], object],
        draft_gone: Callable[[], object],
    ) -> None:
        """``limit``: the most characters of one message; ``random_id``: the draft's id, which
        stop presses name; ``showing`` is called when the answer starts to show (its first words,
        or the final messages: "typing…" can stop), ``draft_gone`` when no draft of it is shown
        any more (a stop press cannot concern it)."""
        self._writer = writer
        self._chat_id = chat_id
        self._reply_to = reply_to
        self._draft = draft
        self._interval = interval
        self._limit = limit
        self.random_id = random_id
        self._showing = showing
        self._draft_gone = draft_gone
        self._first: int | None = None  # the message the answer is edited into
        self._preview = ""  # what is on screen now
        self._tried_at = -math.inf  # the last write, whether it worked or not
        self._drafted_at = -math.inf  # the last draft that reached Telegram
        self._shown = False
        self._stopped = False
        self._finished = False

    @property
    def shown(self) -> bool:
        """Whether any part of this answer has reached the person (a draft counts)."""
        return self._shown

    def stop_pressed(self) -> None:
        """The person pressed "stop" on the draft."""
        self._stopped = True

    async def update(self, text: str) -> None:
        """Show ``text`` (plain) when the interval allows. Raises ``AnswerStopped`` after a stop
        press, ``DeliveryFailed`` when the chat is closed to the bot."""
        if self._stopped:
            raise AnswerStopped(f"chat {self._chat_id}: the person pressed stop")
        if self._finished:
            return
        self._writer.check_open(self._chat_id)
        now = self._writer.clock()
        if self._writer.pacer.quiet_for(self._chat_id):
            return  # the chat's FloodWait: the model goes on, the screen waits
        if now - self._tried_at < self._interval:
            return  # also after a failed write: a broken chat must not cost a request per token
        if self._draft:
            preview = tail(text.strip(), self._limit).rstrip()
            stale = now - self._drafted_at >= DRAFT_REFRESH
            if preview and (preview != self._preview or stale):
                self._tried_at = now
                await self._show_draft(preview)
            if self._draft:
                return
        preview = head(text.strip(), self._limit).rstrip()
        if not preview or preview == self._preview:
            return
        self._tried_at = now
        ids = await self._writer.attempt(
            self._chat_id,
            Part(preview),
            edit=self._first,
            reply_to=self._reply_to,
            wait=not self._shown,  # the first text waits its turn; later ones skip when busy
        )
        if ids:
            self._first = ids[0]
            self._seen(preview)

    async def _show_draft(self, preview: str) -> None:
        action = types.SendMessageTextDraftAction(
            text=types.TextWithEntities(preview, []),
            can_stop=True,
            keep_on_stop=True,  # the words stay on screen until the final message replaces them
            random_id=self.random_id,
        )
        request = functions.messages.SetTypingRequest(peer=self._chat_id, action=action)
        pacer = self._writer.pacer
        if pacer.quiet_for(self._chat_id):
            return
        # A draft is no message: only the bot-wide bucket counts it.
        if self._shown:
            if not pacer.try_turn(self._chat_id, private=True, chat=False):
                return
        else:
            await pacer.turn(self._chat_id, private=True, chat=False)
        try:
            with self._writer.flood_of(self._chat_id, functions.messages.SetTypingRequest):
                await self._writer.client(request)
        except FLOODS:
            return
        except (OSError, ConnectionError) as exc:  # the network's trouble: the next update
            log.info("chat %s: a draft did not go out: %r", self._chat_id, exc)
            return
        except errors.UserIsBlockedError as exc:
            raise self._writer.gone(self._chat_id, exc) from exc
        except (errors.RPCError, ValueError) as exc:
            # Drafts refused (not a user, not allowed here): edit a message instead; that write
            # will tell whether the chat itself is closed.
            log.info("chat %s refused a live draft (%r); editing instead", self._chat_id, exc)
            self._draft = False
            self._draft_gone()
            self._tried_at = -math.inf
            return
        self._drafted_at = self._writer.clock()
        self._seen(preview)

    def _seen(self, preview: str) -> None:
        self._preview = preview
        if not self._shown:
            self._shown = True
            self._showing()

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> list[int]:
        """Show the final ``text`` formatted, as real messages, ``offer`` as an inline button
        under the last (``bot.CALLBACK`` takes its presses); their ids. Raises
        ``DeliveryFailed`` when it cannot be delivered within the writer's ``max_wait``."""
        self._showing()
        self._draft_gone()
        if self._finished:
            return [] if self._first is None else [self._first]
        self._finished = True
        parts = parts_of(text, markdown=markdown, limit=self._limit)
        if not self._draft and self._first is not None:
            # Telegram counts edits of one message; let the last interim edit settle first.
            delay = self._tried_at + self._interval - self._writer.clock()
            if delay > 0:
                await self._writer.sleep(delay)
        edit = None if self._draft else self._first
        ids = await self._writer.deliver(
            self._chat_id, parts, reply_to=self._reply_to, edit=edit, markup=button(offer)
        )
        self._shown = True
        return ids


def button(offer: Offer | None) -> types.ReplyInlineMarkup | None:
    """``offer`` as an inline keyboard of one button whose callback data is its command."""
    if offer is None:
        return None
    data = offer.command.encode()[:64]  # Telegram's limit; a command with an id fits
    pressed = types.KeyboardInlineButton(offer.label, types.InlineButtonTypeCallback(data))
    return types.ReplyInlineMarkup([types.KeyboardInlineButtonRow([pressed])])
