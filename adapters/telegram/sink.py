"""Talking back through Telegram: whole messages, answers streamed by editing, old messages.

Telegram limits how often a bot may write to one chat; going over costs a FloodWait of
seconds to minutes. So a stream edits its message at most once per interval, never repeats
an edit that changes nothing, and after a FloodWait stays quiet until it is over: the model
keeps streaming meanwhile, and ``finish`` waits out what is left before the final text.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telethon import TelegramClient, errors
from telethon.tl import functions, types

from adapters.telegram.incoming import replied_id
from adapters.telegram.markdown import to_entities
from adapters.telegram.split import Part, split
from adapters.telegram.text import LIMIT, head, units
from core.values import Node, Role

log = logging.getLogger(__name__)

# The chat is closed to the bot: removed from the group, blocked by the user, banned, ... The
# answer can never arrive, and trying again would only earn FloodWaits.
_GONE: tuple[type[BaseException], ...] = (
    errors.ForbiddenError,
    errors.ChannelPrivateError,
    errors.UserIsBlockedError,
    errors.InputUserDeactivatedError,
    errors.PeerIdInvalidError,
    errors.ChatRestrictedError,
    errors.ChatAdminRequiredError,
    errors.UserBannedInChannelError,
    errors.ChatIdInvalidError,
    ValueError,  # Telethon's "could not find the input entity": a chat the bot cannot reach
)
_MIN_PIECE = 64  # below this, a "message too long" is not about the length of the text
# Telegram shows a chat action for about five seconds; a slow model may take much longer to
# its first word, so "typing…" is renewed until the answer's first message appears (for at
# most a couple of minutes, in case nothing ever does).
TYPING_EVERY = 4.5
TYPING_RENEWALS = 30


def _positive(chat_id: int) -> bool:
    # Telethon's marked ids: users are positive, groups and channels negative.
    return chat_id > 0


class _Gone(Exception):
    """The chat can no longer be written to."""


class _Paused(Exception):
    """A FloodWait while streaming: nothing may be written for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class TelegramSink:
    """``core.ports.ReplySink`` and ``MessageLookup`` over a started ``TelegramClient``.

    Give the client a low ``flood_sleep_threshold`` (0 is best): Telethon otherwise sleeps
    through FloodWaits itself, stalling a stream where this class would just skip edits.
    """

    def __init__(
        self,
        client: TelegramClient,
        *,
        is_private: Callable[[int], bool] = _positive,
        private_interval: float = 1.0,
        group_interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        link_preview: bool = False,
        limit: int = LIMIT,
        flood_retries: int = 5,
        typing_every: float = TYPING_EVERY,
    ) -> None:
        self._client = client
        self._is_private = is_private
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._link_preview = link_preview
        self._limit = limit
        self._flood_retries = flood_retries
        self._me: int | None = None
        self._typing: dict[int, asyncio.Task[None]] = {}
        self._typing_every = typing_every

    # -- the ports -----------------------------------------------------------------------------

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> list[int]:
        """Send plain text, in as many messages as it takes, each replying to the one before."""
        ids, _ = await self._deliver(chat_id, split(text, limit=self._limit), reply_to=reply_to)
        return ids

    def stream(self, chat_id: int, reply_to: int | None) -> TelegramStream:
        private = self._is_private(chat_id)
        interval = self._private_interval if private else self._group_interval
        return TelegramStream(self, chat_id, reply_to, interval)

    async def typing(self, chat_id: int) -> None:
        """Show "typing…" in the chat until its answer's first message is shown."""
        await self._show_typing(chat_id)
        if chat_id not in self._typing:
            self._typing[chat_id] = asyncio.create_task(self._keep_typing(chat_id))

    async def _show_typing(self, chat_id: int) -> None:
        request = functions.messages.SetTypingRequest(
            peer=chat_id, action=types.SendMessageTypingAction()
        )
        try:
            await self._client(request)  # Telethon resolves the peer from its entity cache
        except Exception as exc:  # a missing "typing…" must never cost the answer
            log.debug("could not show typing in chat %s: %r", chat_id, exc)

    async def _keep_typing(self, chat_id: int) -> None:
        try:
            for _ in range(TYPING_RENEWALS):
                # The real sleep, not the injected one: this loop must not spin on a fake clock.
                await asyncio.sleep(self._typing_every)
                await self._show_typing(chat_id)
        finally:
            if self._typing.get(chat_id) is asyncio.current_task():
                del self._typing[chat_id]

    def stop_typing(self, chat_id: int) -> None:
        """Stop renewing "typing…" in the chat: something is shown now."""
        task = self._typing.pop(chat_id, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        """Stop every "typing…" still being renewed."""
        for chat_id in list(self._typing):
            self.stop_typing(chat_id)

    async def lookup(self, chat_id: int, message_id: int) -> Node | None:
        try:
            message = await self._client.get_messages(chat_id, ids=message_id)
        except (errors.RPCError, ValueError, OSError) as exc:
            log.info("could not fetch message %s of chat %s: %r", message_id, chat_id, exc)
            return None
        if not isinstance(message, types.Message):
            return None  # deleted, or a service message: no link of a conversation
        mine = bool(message.out) or (
            message.sender_id is not None and message.sender_id == await self._self_id()
        )
        return Node(
            chat_id=chat_id,
            message_id=int(message.id),
            role=Role.ASSISTANT if mine else Role.USER,
            text=message.message or "",
            parent=replied_id(message),
        )

    # -- writing -------------------------------------------------------------------------------

    def _parts(self, text: str, *, markdown: bool) -> list[Part]:
        if markdown:
            return split(*to_entities(text), limit=self._limit)
        return split(text, limit=self._limit)

    async def _deliver(
        self, chat_id: int, parts: Sequence[Part], *, reply_to: int | None, edit: int | None = None
    ) -> tuple[list[int], bool]:
        """Show ``parts`` in order, the first by editing ``edit`` when given, each next one
        replying to the one before. Returns the ids shown, and whether the chat is gone."""
        ids: list[int] = []
        try:
            for index, part in enumerate(parts):
                target = edit if index == 0 else None
                ids += await self._put(
                    chat_id, part, edit=target, reply_to=ids[-1] if ids else reply_to
                )
        except _Gone as exc:
            log.info("chat %s is closed to the bot (%r); giving up", chat_id, exc.__cause__)
            return ids, True
        return ids, False

    async def _put(
        self,
        chat_id: int,
        part: Part,
        *,
        edit: int | None,
        reply_to: int | None,
        patient: bool = True,
    ) -> list[int]:
        """Show one part: edit message ``edit``, or send a new message. Returns the ids that
        show it (several when Telegram wants it shorter, none when it could not be shown).

        Raises ``_Gone`` when the chat is closed; impatient, ``_Paused`` on a FloodWait.
        """
        floods = 0
        while True:
            try:
                return await self._write(chat_id, part, edit=edit, reply_to=reply_to)
            except errors.FloodWaitError as exc:
                if not patient:
                    raise _Paused(exc.seconds) from exc
                if floods >= self._flood_retries:
                    log.warning("chat %s: still flood-limited after %s waits", chat_id, floods)
                    return [] if edit is None else [edit]
                floods += 1
                log.info("chat %s: Telegram asks to wait %s s", chat_id, exc.seconds)
                await self._sleep(exc.seconds)
            except errors.MessageNotModifiedError:
                return [] if edit is None else [edit]
            except errors.MessageIdInvalidError:
                if edit is not None:
                    log.info("message %s of chat %s is gone; sending anew", edit, chat_id)
                    edit = None
                elif reply_to is not None:
                    reply_to = None  # the message being answered was deleted
                else:
                    log.warning("chat %s refused a message as invalid", chat_id)
                    return []
            except errors.MessageTooLongError:
                if not patient or units(part.text) // 2 < _MIN_PIECE:
                    log.warning("chat %s: Telegram found a part too long", chat_id)
                    return [] if edit is None else [edit]
                return await self._halves(chat_id, part, edit=edit, reply_to=reply_to)
            except _GONE as exc:
                raise _Gone from exc
            except errors.BadRequestError as exc:
                if part.entities:
                    log.warning("Telegram refused the formatting (%r); sending plain text", exc)
                    part = part.plain()
                elif edit is None and reply_to is not None and "REPLY" in exc.message:
                    reply_to = None
                else:
                    log.warning("Telegram refused a message to chat %s: %r", chat_id, exc)
                    return [] if edit is None else [edit]
            except (errors.RPCError, OSError) as exc:
                log.warning("could not write to chat %s: %r", chat_id, exc)
                return [] if edit is None else [edit]

    async def _halves(
        self, chat_id: int, part: Part, *, edit: int | None, reply_to: int | None
    ) -> list[int]:
        ids: list[int] = []
        for index, piece in enumerate(split(part.text, part.entities, units(part.text) // 2)):
            target = edit if index == 0 else None
            ids += await self._put(
                chat_id, piece, edit=target, reply_to=ids[-1] if ids else reply_to
            )
        return ids

    async def _write(
        self, chat_id: int, part: Part, *, edit: int | None, reply_to: int | None
    ) -> list[int]:
        # An explicit (even empty) entity list keeps Telethon from parsing Markdown itself.
        entities = list(part.entities)
        if edit is not None:
            await self._client.edit_message(
                chat_id,
                edit,
                part.text,
                formatting_entities=entities,
                link_preview=self._link_preview,
            )
            return [edit]
        message = await self._client.send_message(
            chat_id,
            part.text,
            reply_to=reply_to,
            formatting_entities=entities,
            link_preview=self._link_preview,
        )
        if message is None:  # Telethon could not match the sent message in the response
            log.warning("chat %s: sent a message but did not learn its id", chat_id)
            return []
        return [int(message.id)]

    async def _self_id(self) -> int | None:
        if self._me is None:
            try:
                me: Any = await self._client.get_me(input_peer=True)
            except (errors.RPCError, OSError) as exc:
                log.info("could not learn the bot's own id: %r", exc)
                return None
            self._me = None if me is None else int(me.user_id)
        return self._me


class TelegramStream:
    """One answer shown as it grows: a message sent at the first text, then edited."""

    def __init__(self, sink: TelegramSink, chat_id: int, reply_to: int | None, interval: float):
        self._sink = sink
        self._chat_id = chat_id
        self._reply_to = reply_to
        self._interval = interval
        self._first: int | None = None  # the message the answer is streamed into
        self._shown = ""
        self._tried_at = -math.inf  # the last write, whether it worked or not
        self._quiet_until = -math.inf  # a FloodWait's end
        self._gone = False
        self._finished = False

    async def update(self, text: str) -> None:
        """Show ``text`` (plain, its first message's worth) if the interval allows it."""
        if self._gone or self._finished:
            return
        preview = head(text.strip(), self._sink._limit).rstrip()
        now = self._sink._clock()
        if not preview or preview == self._shown or now < self._quiet_until:
            return
        if now - self._tried_at < self._interval:
            return  # also after a failed write: a broken chat must not cost a request per token
        self._tried_at = now
        try:
            ids = await self._sink._put(
                self._chat_id,
                Part(preview),
                edit=self._first,
                reply_to=self._reply_to,
                patient=False,
            )
        except _Paused as exc:
            log.info("chat %s: pausing the stream for %s s", self._chat_id, exc.seconds)
            self._quiet_until = self._sink._clock() + exc.seconds
            return
        except _Gone as exc:
            log.info("chat %s is closed to the bot (%r); giving up", self._chat_id, exc.__cause__)
            self._gone = True
            return
        if ids:
            self._first = ids[0]
            self._shown = preview
            self._sink.stop_typing(self._chat_id)

    async def finish(self, text: str, *, markdown: bool = True) -> list[int]:
        """Show the final ``text`` formatted; return the ids of every message it is shown in."""
        self._sink.stop_typing(self._chat_id)
        if self._finished or self._gone:
            return [] if self._first is None else [self._first]
        self._finished = True
        parts = self._sink._parts(text, markdown=markdown)
        if not parts:
            return [] if self._first is None else [self._first]
        await self._wait_turn()
        ids, gone = await self._sink._deliver(
            self._chat_id, parts, reply_to=self._reply_to, edit=self._first
        )
        if gone and self._first is not None and self._first not in ids:
            ids.insert(0, self._first)
        return ids

    async def _wait_turn(self) -> None:
        """Sleep out a FloodWait, and the interval since the last write."""
        until = max(self._quiet_until, self._tried_at + self._interval)
        delay = until - self._sink._clock()
        if delay > 0:
            await self._sink._sleep(delay)
