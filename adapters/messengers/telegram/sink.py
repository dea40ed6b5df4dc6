"""Talking back through Telegram: whole messages, streamed answers, "typing…", old messages.

Flood control is per chat (``flood.Pacer``): one chat's FloodWait never holds another chat, and
bot-wide sliding windows keep the bot under Telegram's limits before Telegram has to refuse.
A message that must arrive waits out FloodWaits for up to ``writer.MAX_WAIT`` seconds in all and
then raises ``core.errors.DeliveryFailed``; so does any write to a chat closed to the bot.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, errors
from telethon.tl import functions, types

from adapters.messengers.telegram import rich
from adapters.messengers.telegram.attachments import describe
from adapters.messengers.telegram.flood import TELEGRAM_LIMITS, Limits, Pacer
from adapters.messengers.telegram.formats import Formatter, MessageFormat, without_reasoning
from adapters.messengers.telegram.incoming import replied_id
from adapters.messengers.telegram.media import TelegramMedia
from adapters.messengers.telegram.pictures import deliver_picture, fits_caption
from adapters.messengers.telegram.split import parts_of
from adapters.messengers.telegram.stream import Mode, TelegramStream
from adapters.messengers.telegram.text import LIMIT
from adapters.messengers.telegram.voice import deliver_voice
from adapters.messengers.telegram.writer import GONE, MAX_WAIT, SentMessages, Writer
from core.values import Attachment, MediaKind, Node, Picture, Role, VoiceNote

log = logging.getLogger(__name__)

# Telegram shows a chat action for about five seconds; a slow model may take much longer to
# its first word, so "typing…" is renewed until the answer's first text appears (for at most a
# couple of minutes, in case nothing ever does).
TYPING_EVERY = 4.5
TYPING_RENEWALS = 30
TYPING_DELAY = 1.0
_DRAFTS_KEPT = 10_000  # drafts a stop press may name


def _positive(chat_id: int) -> bool:
    # Telethon's marked ids: users are positive, groups and channels negative.
    return chat_id > 0


class TelegramSink:
    """``core.ports.ReplySink`` and ``MessageLookup`` over a started ``TelegramClient``.

    It sets the client's ``flood_sleep_threshold`` to 0: Telethon would otherwise sleep
    through FloodWaits itself, stalling a stream where this class skips an edit instead.
    """

    def __init__(
        self,
        client: TelegramClient,
        *,
        is_private: Callable[[int], bool] = _positive,
        mode: Mode = Mode.AUTO,
        private_interval: float = 1.0,
        group_interval: float = 3.0,
        draft_interval: float = 0.5,
        limits: Limits = TELEGRAM_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        link_preview: bool = False,
        limit: int = LIMIT,
        max_wait: float = MAX_WAIT,
        typing_every: float = TYPING_EVERY,
        typing_delay: float = TYPING_DELAY,
        message_format: MessageFormat = MessageFormat.RICH,
        rich_size: int = rich.DEFAULT_SIZE,
        show_reasoning: bool = True,
    ) -> None:
        """``message_format``, ``rich_size``, ``show_reasoning``: MESSAGE_FORMAT,
        RICH_MESSAGE_LIMIT and SHOW_REASONING (see ``formats``)."""
        client.flood_sleep_threshold = 0
        self._client = client
        self._is_private = is_private
        self._mode = mode
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._draft_interval = draft_interval
        self.limit = limit
        self.writer = Writer(
            client,
            Pacer(limits, clock=clock),
            is_private=is_private,
            clock=clock,
            sleep=sleep,
            link_preview=link_preview,
            max_wait=max_wait,
        )
        self.formatter = Formatter(
            message_format,
            rich_size=rich_size,
            limit=limit,
            show_reasoning=show_reasoning,
            health=rich.RichHealth(clock=clock),
        )
        self.writer.rich_health = self.formatter.health  # a refused final counts for drafts too
        self._me: int | None = None
        self._typing: dict[int, asyncio.Task[None]] = {}
        self._typing_every = typing_every
        self._typing_delay = typing_delay
        self._drafts: dict[tuple[int, int], TelegramStream] = {}
        # The media of the chats' messages; messages with media seen lately are kept in it.
        self.media = TelegramMedia(client, self.fetch, clock=clock, sleep=sleep)

    @property
    def sent(self) -> SentMessages:
        """The ids of the messages this sink sent lately: replies to them address the bot."""
        return self.writer.sent

    # -- the ports -----------------------------------------------------------------------------

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> list[int]:
        """Send plain text, in as many messages as it takes, each replying to the one before.
        Raises ``DeliveryFailed`` when it cannot be delivered."""
        return await self.writer.deliver(
            chat_id, parts_of(text, markdown=False, limit=self.limit), reply_to=reply_to
        )

    async def send_picture(
        self, chat_id: int, picture: Picture, caption: str, reply_to: int | None = None
    ) -> list[int]:
        """Send a picture as a photo with a plain-text caption; a caption too long for a photo
        follows as text answering it. Raises ``DeliveryFailed``."""
        short = fits_caption(caption)
        message = await deliver_picture(
            self.writer, chat_id, picture, caption if short else "", reply_to
        )
        self.media.remember(chat_id, message)  # a reply to it may need the picture soon
        ids = [int(message.id)]
        if not short:
            ids += await self.send(chat_id, caption, ids[0])
        return ids

    async def send_voice(
        self, chat_id: int, voice: VoiceNote, caption: str, reply_to: int | None = None
    ) -> list[int]:
        """Send a voice note with a plain-text caption; a caption too long for it follows as
        text answering it. Raises ``DeliveryFailed``."""
        short = fits_caption(caption)
        message = await deliver_voice(
            self.writer, chat_id, voice, caption if short else "", reply_to
        )
        ids = [int(message.id)]
        if not short:
            ids += await self.send(chat_id, caption, ids[0])
        return ids

    def stream(self, chat_id: int, reply_to: int | None) -> TelegramStream:
        private = self._is_private(chat_id)
        # Telegram takes live drafts in private chats only, so "draft" and "auto" agree today.
        draft = private and self._mode is not Mode.EDIT
        if draft:
            interval = self._draft_interval
        else:
            interval = self._private_interval if private else self._group_interval
        draft_id = (chat_id, secrets.randbits(63) or 1)
        stream = TelegramStream(
            self.writer,
            chat_id,
            reply_to,
            draft=draft,
            interval=interval,
            limit=self.limit,
            random_id=draft_id[1],
            showing=functools.partial(self.stop_typing, chat_id),
            draft_gone=functools.partial(self._drafts.pop, draft_id, None),
            formatter=self.formatter,
        )
        if draft:
            self._drafts[draft_id] = stream
            if len(self._drafts) > _DRAFTS_KEPT:  # streams never finished (cancelled requests)
                del self._drafts[next(iter(self._drafts))]
        return stream

    async def typing(self, chat_id: int) -> None:
        """Show "typing…" in the chat, from ``typing_delay`` seconds on until the answer's first
        text is shown. A quick answer needs none, and at a burst of new questions the first
        texts go out before any "typing…". Never raises; a chat found closed here makes the
        answer's next write raise ``DeliveryFailed`` without trying."""
        if chat_id not in self._typing:
            self._typing[chat_id] = asyncio.create_task(self._keep_typing(chat_id))

    async def _show_typing(self, chat_id: int) -> None:
        # "typing…" is cosmetic: it goes only when the bot-wide window has room to spare.
        kind = functions.messages.SetTypingRequest
        turn = self.writer.pacer.try_turn(chat_id, kind, private=True, chat=False)
        if turn is None:
            return
        request = kind(peer=chat_id, action=types.SendMessageTypingAction())
        with turn, self.writer.flood_of(chat_id, kind):
            await self._client(request)  # Telethon resolves the peer from its entity cache

    async def _keep_typing(self, chat_id: int) -> None:
        try:
            # The real sleep, not the injected one: this loop must not spin on a fake clock.
            await asyncio.sleep(self._typing_delay)
            for _ in range(TYPING_RENEWALS):
                try:
                    await self._show_typing(chat_id)
                except GONE as exc:
                    log.info("chat %s is closed to the bot (%r)", chat_id, exc)
                    self.writer.closed.add(chat_id)
                    return
                except Exception as exc:  # a missing "typing…" must never cost the answer
                    log.debug("could not show typing in chat %s: %r", chat_id, exc)
                await asyncio.sleep(self._typing_every)
        finally:
            if self._typing.get(chat_id) is asyncio.current_task():
                del self._typing[chat_id]

    def stop_typing(self, chat_id: int) -> None:
        """Stop renewing "typing…" in the chat: something is shown now."""
        task = self._typing.pop(chat_id, None)
        if task is not None:
            task.cancel()

    def reachable(self, chat_id: int) -> None:
        """A message came from this chat: it is open to the bot again (unblocked, say)."""
        self.writer.closed.discard(chat_id)

    def stop_pressed(self, chat_id: int, random_id: int) -> bool:
        """The person pressed "stop" on the draft ``random_id``; whether it was one of ours."""
        stream = self._drafts.pop((chat_id, random_id), None)
        if stream is None:
            return False
        stream.stop_pressed()
        return True

    def close(self) -> None:
        """Stop every "typing…" still being renewed, and every draft still kept alive."""
        for chat_id in list(self._typing):
            self.stop_typing(chat_id)
        for stream in self._drafts.values():
            stream.abandon()

    async def lookup(self, chat_id: int, message_id: int) -> Node | None:
        message = await self.fetch(chat_id, message_id)
        if message is None:
            return None
        parent = replied_id(message)
        picture = describe(int(message.id), message.media)
        mine = await self.is_mine(message)
        text = message.message or ""
        return Node(
            chat_id=str(chat_id),
            message_id=str(message.id),
            role=Role.ASSISTANT if mine else Role.USER,
            text=without_reasoning(text, message.entities) if mine else text,
            parent=None if parent is None else str(parent),
            # A thread keeps the pictures of its turns (a caption is the turn's text).
            attachments=(picture,)
            if isinstance(picture, Attachment) and picture.kind is MediaKind.IMAGE
            else (),
        )

    async def fetch(self, chat_id: int, message_id: int) -> Any:
        """The message from Telegram, or None (deleted, a service message, unreachable)."""
        try:
            # A flood wait on reading is this chat's too: Telethon must not refuse every
            # chat's lookups for it.
            with self.writer.flood_of(chat_id, functions.messages.GetMessagesRequest):
                message = await self._client.get_messages(chat_id, ids=message_id)
        except (errors.RPCError, ValueError, OSError) as exc:
            log.info("could not fetch message %s of chat %s: %r", message_id, chat_id, exc)
            return None
        return message if isinstance(message, types.Message) else None

    async def is_mine(self, message: Any) -> bool:
        if message.out:
            return True
        return message.sender_id is not None and message.sender_id == await self._self_id()

    async def _self_id(self) -> int | None:
        if self._me is None:
            try:
                me: Any = await self._client.get_me(input_peer=True)
            except (errors.RPCError, OSError) as exc:
                log.info("could not learn the bot's own id: %r", exc)
                return None
            self._me = None if me is None else int(me.user_id)
        return self._me
