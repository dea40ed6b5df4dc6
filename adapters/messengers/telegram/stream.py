"""One answer shown as it grows: a live draft in private chats, an edited message in groups.

A live draft (``messages.setTyping`` with ``SendMessageTextDraftAction``, Telegram's "live
response streaming" for AI bots) is an ephemeral preview pinned to the bottom of a private
chat. It has no edit flood limits, so it can follow the model closely, but clients drop it
after a time to live (Telegram's Bot API calls ``sendMessageDraft`` "a temporary 30-second
preview") or when a real message arrives: while the model is silent, the draft is sent again
in the background before it would vanish, and the answer is always sent as real messages at
the end. The draft offers a stop button; when the person presses it, the next ``update`` raises
``AnswerStopped``.

Where drafts cannot go (groups) or are refused, the answer is a message sent at the first text
and then edited, at most once per interval, never with an edit that changes nothing, and quiet
during the chat's FloodWait; the model keeps streaming meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections.abc import Callable
from typing import Any

from telethon import errors
from telethon.errors import TypeNotFoundError
from telethon.tl import functions, types

from adapters.messengers.telegram import rich
from adapters.messengers.telegram.flood import Priority
from adapters.messengers.telegram.formats import Formatter, MessageFormat
from adapters.messengers.telegram.split import Part
from adapters.messengers.telegram.text import head, tail
from adapters.messengers.telegram.writer import EDIT, FLOODS, SEND, Writer
from core.errors import AnswerStopped
from core.values import Offer

log = logging.getLogger(__name__)

# Clients drop a draft some seconds after its last update (message_typing_draft_ttl, about 30 s):
# a draft is sent again when it has not changed for this long, as an interim update (skipped
# when the bot is busy, tried again every DRAFT_RETRY), and from DRAFT_URGENT on it waits for
# its turn like a message that must arrive: the screen is never left without it for 25 s.
DRAFT_REFRESH = 20.0
_REASONING_SHOWN = 1_000  # characters of the reasoning's end a draft shows
DRAFT_RETRY = 1.0
DRAFT_URGENT = 23.0
# A draft is kept alive this long after the model's last word at most: an answer abandoned
# without its final (a cancelled request) must not keep drafting.
DRAFT_KEPT = 300.0
DRAFT = functions.messages.SetTypingRequest


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
        formatter: Formatter | None = None,
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
        self._format = formatter or Formatter(MessageFormat.ENTITIES, limit=limit)
        self._rich_drafts = self._format.rich_now  # until Telegram refuses one
        self._text = ""
        self._reasoning = ""
        self._first: int | None = None  # the message the answer is edited into
        self._preview = ""  # what is on screen now
        self._tried_at = -math.inf  # the last write, whether it worked or not
        self._drafted_at = -math.inf  # the last draft that reached Telegram
        self._edited_at = -math.inf  # the last message or edit of it that reached Telegram
        self._updated_at = writer.clock()  # the model's last word
        self._shown = False
        self._stopped = False
        self._finished = False
        self._final_out = False  # the final is being written: no draft may follow it
        self._drafting = False  # a draft request is on its way
        self._keeper: asyncio.Task[None] | None = None  # keeps the draft alive while idle
        self._done = asyncio.Event()
        writer.pacer.opened(chat_id, self)

    @property
    def shown(self) -> bool:
        """Whether any part of this answer has reached the person (a draft counts)."""
        return self._shown

    def stop_pressed(self) -> None:
        """The person pressed "stop" on the draft."""
        self._stopped = True

    async def reason(self, reasoning: str) -> None:
        """The model's reasoning so far: shown in the draft until the answer starts, and kept
        collapsed above the final answer. Raises like ``update``."""
        if not self._format.show_reasoning:
            return
        self._reasoning = reasoning
        if not self._text.strip():
            await self.update(self._text)

    async def update(self, text: str) -> None:
        """Show ``text`` (plain) when the interval allows. Raises ``AnswerStopped`` after a stop
        press, ``DeliveryFailed`` when the chat is closed to the bot."""
        self._text = text
        if self._stopped:
            raise AnswerStopped(f"chat {self._chat_id}: the person pressed stop")
        if self._finished:
            return
        self._writer.check_open(self._chat_id)
        now = self._writer.clock()
        self._updated_at = now
        if now - self._tried_at < self._interval:
            return  # also after a failed write: a broken chat must not cost a request per token
        if self._draft:
            preview = self._draft_preview(text)
            stale = now - self._drafted_at >= DRAFT_REFRESH
            if preview and (preview != self._preview or stale):
                self._tried_at = now
                await self._show_draft(preview)
            if self._draft:
                return
        preview = head(text.strip(), self._limit).rstrip()
        if not preview or preview == self._preview:
            return
        if self._writer.pacer.quiet_for(self._chat_id, SEND if self._first is None else EDIT):
            return  # the chat's FloodWait: the model goes on, the screen waits
        self._tried_at = now
        ids = await self._writer.attempt(
            self._chat_id,
            Part(preview),
            edit=self._first,
            reply_to=self._reply_to,
            first=not self._shown,  # the first text waits its turn; later ones skip when busy
        )
        if ids:
            self._first = ids[0]
            self._edited_at = now
            self._seen(preview)

    def _draft_preview(self, text: str) -> str:
        """What the draft shows: the end of the answer, or of the reasoning before it."""
        if not text.strip():
            thinking = tail(self._reasoning.strip(), _REASONING_SHOWN)
            if not thinking:
                return ""
            return rich.quote(thinking) if self._rich_drafts else f"{rich.THOUGHT} {thinking}"
        if self._rich_drafts:
            return rich.draft(text, self._limit).strip()
        return tail(text.strip(), self._limit).rstrip()

    async def _show_draft(self, preview: str, *, urgent: bool = False) -> None:
        """Send the draft, unless one is on its way; ``urgent``: wait for a turn even when it is
        no longer the first (the draft is about to vanish)."""
        action: Any
        if self._rich_drafts:
            action = types.InputSendMessageRichMessageDraftAction(
                rich_message=types.InputRichMessageMarkdown(markdown=preview),
                can_stop=True,
                keep_on_stop=True,
                random_id=self.random_id,
            )
        else:
            action = types.SendMessageTextDraftAction(
                text=types.TextWithEntities(preview, []),
                can_stop=True,
                keep_on_stop=True,  # the words stay on screen until the final replaces them
                random_id=self.random_id,
            )
        request = DRAFT(peer=self._chat_id, action=action)
        pacer = self._writer.pacer
        if self._drafting or pacer.quiet_for(self._chat_id, DRAFT):
            return
        # A draft is no message: only the bot-wide bucket counts it.
        interim = self._shown and not urgent
        turn = pacer.try_turn(self._chat_id, DRAFT, private=True, chat=False) if interim else None
        if interim and turn is None:
            return
        self._drafting = True
        try:
            if turn is None:
                priority = Priority.KEEP if urgent else Priority.MUST
                turn = await pacer.turn(self._chat_id, private=True, chat=False, priority=priority)
            with turn:
                if self._final_out:
                    return  # the final went out meanwhile: a draft now would show after it
                with self._writer.flood_of(self._chat_id, DRAFT):
                    await self._writer.client(request)
        except FLOODS:
            return
        except (OSError, ConnectionError) as exc:  # the network's trouble: the next update
            log.info("chat %s: a draft did not go out: %r", self._chat_id, exc)
            return
        except errors.UserIsBlockedError as exc:
            raise self._writer.gone(self._chat_id, exc) from exc
        except (errors.RPCError, ValueError, TypeNotFoundError) as exc:
            if self._rich_drafts and isinstance(exc, (errors.BadRequestError, TypeNotFoundError)):
                # A rich draft refused: the next one goes as text, the final as Telegram allows.
                reason = str(getattr(exc, "message", "unknown constructor"))
                log.info("chat %s refused a rich draft (%s); drafting text", self._chat_id, reason)
                self._format.health.refused(reason)
                self._rich_drafts = False
                preview = self._draft_preview(self._text)
                if preview:
                    self._drafting = False  # this one is done: the text draft goes now
                    await self._show_draft(preview, urgent=urgent)
                return
            # Drafts refused (not a user, not allowed here): edit a message instead; that write
            # will tell whether the chat itself is closed.
            log.info("chat %s refused a live draft (%r); editing instead", self._chat_id, exc)
            self._draft = False
            self._draft_gone()
            self._tried_at = -math.inf
            return
        finally:
            self._drafting = False
        self._drafted_at = self._writer.clock()
        self._seen(preview)
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        """Send the draft again whenever it has not been sent for ``DRAFT_REFRESH`` seconds,
        until the final is written (even while the final waits for its turn), a stop press, or
        ``DRAFT_KEPT`` seconds of silence from the model."""
        clock = self._writer.clock
        while self._draft and not self._stopped and not self._final_out:
            now = clock()
            if now - self._updated_at > DRAFT_KEPT:
                return
            due = self._drafted_at + DRAFT_REFRESH - now
            if due <= 0:
                urgent = now - self._drafted_at >= DRAFT_URGENT
                try:
                    await self._show_draft(self._preview, urgent=urgent)
                except Exception as exc:  # a closed chat: the next update or the final says so
                    log.info("chat %s: could not keep the draft: %r", self._chat_id, exc)
                    return
                if self._drafted_at + DRAFT_REFRESH > clock():
                    continue
                due = DRAFT_RETRY  # refused for now (busy, a FloodWait): soon again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), due)  # the final ends the wait
            if self._done.is_set():
                return

    async def _stop_keeping_alive(self) -> None:
        self._final_out = True
        self._done.set()
        if self._keeper is not None:
            with contextlib.suppress(Exception):
                await self._keeper  # a draft on its way lands before the final, not after

    def abandon(self) -> None:
        """No final will come (the bot is stopping): stop keeping the draft alive."""
        self._done.set()
        self._writer.pacer.closed(self._chat_id, self)

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
        parts = self._format.final(text, markdown=markdown, reasoning=self._reasoning)
        if not self._draft and self._first is not None:
            # Telegram counts edits of one message; let the last interim edit settle first.
            delay = self._edited_at + self._interval - self._writer.clock()
            if delay > 0:
                await self._writer.sleep(delay)
        edit = None if self._draft else self._first
        try:
            ids = await self._writer.deliver(
                self._chat_id,
                parts,
                reply_to=self._reply_to,
                edit=edit,
                markup=button(offer),
                before_write=self._stop_keeping_alive,
            )
        finally:
            self._done.set()
            self._writer.pacer.closed(self._chat_id, self)
        self._shown = True
        return ids


def button(offer: Offer | None) -> types.ReplyInlineMarkup | None:
    """``offer`` as an inline keyboard of one button whose callback data is its command."""
    if offer is None:
        return None
    data = offer.command.encode()[:64]  # Telegram's limit; a command with an id fits
    pressed = types.KeyboardInlineButton(offer.label, types.InlineButtonTypeCallback(data))
    return types.ReplyInlineMarkup([types.KeyboardInlineButtonRow([pressed])])
