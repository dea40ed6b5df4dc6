"""Writing one message to a chat: paced, per-chat FloodWaits, and what each refusal means.

Two ways to write. ``deliver`` is for a message that must arrive (an answer's final parts, a
command's answer): it waits its turn, waits out FloodWaits for as long as Telegram says, but no
longer than ``max_wait`` in all, and raises ``DeliveryFailed`` when it cannot. A FloodWait holds
one kind of request (see ``flood``): when edits are held, the final goes out as a new message
at once rather than wait (the fragment shown so far is then deleted). ``attempt`` is for an
interim update of a growing answer: one try if the pacer has room now, never a wait.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from telethon import TelegramClient, errors, helpers
from telethon.errors import TypeNotFoundError
from telethon.tl import functions, types

from adapters.messengers.telegram.flood import Pacer, forget_flood
from adapters.messengers.telegram.rich import RichHealth
from adapters.messengers.telegram.split import Part, split
from adapters.messengers.telegram.text import units
from core.errors import DeliveryFailed

log = logging.getLogger(__name__)

# The chat is closed to the bot: removed from the group, blocked by the user, banned, ... The
# answer can never arrive, and trying again would only earn FloodWaits.
GONE: tuple[type[BaseException], ...] = (
    errors.ForbiddenError,
    errors.ChannelPrivateError,
    errors.UserIsBlockedError,
    errors.InputUserDeactivatedError,
    errors.PeerIdInvalidError,
    errors.ChatRestrictedError,
    errors.ChatAdminRequiredError,
    errors.UserBannedInChannelError,
    errors.ChatIdInvalidError,
    errors.ChannelInvalidError,
    ValueError,  # Telethon's "could not find the input entity": a chat the bot cannot reach
)
FLOODS: tuple[type[BaseException], ...] = (errors.FloodWaitError, errors.SlowModeWaitError)
SEND = functions.messages.SendMessageRequest
EDIT = functions.messages.EditMessageRequest
MAX_WAIT = 600.0  # seconds a message that must arrive may wait out floods and outages, in all
_MIN_PIECE = 64  # below this, a "message too long" is not about the length of the text
_SENT_KEPT = 100_000  # ids of the bot's own messages remembered, to know replies to it
# Buttons under a message: a ``types.ReplyInlineMarkup`` (Telethon is untyped), or None.
Markup = Any


class RichRefused(Exception):
    """Telegram refused a rich message as such (its ``RICH_…`` error, say)."""


class SentMessages:
    """The ids of the latest messages the bot sent, per chat: a reply to one addresses it."""

    def __init__(self, size: int = _SENT_KEPT) -> None:
        self._size = size
        self._ids: collections.OrderedDict[tuple[int, int], None] = collections.OrderedDict()

    def add(self, chat_id: int, message_id: int) -> None:
        self._ids[(chat_id, message_id)] = None
        self._ids.move_to_end((chat_id, message_id))
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._ids


class Writer:
    """Sends and edits messages through ``client``, paced by ``pacer``."""

    def __init__(
        self,
        client: TelegramClient,
        pacer: Pacer,
        *,
        is_private: Callable[[int], bool],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]],
        link_preview: bool = False,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.is_private = is_private
        self.clock = clock
        self.sleep = sleep
        self.link_preview = link_preview
        self.max_wait = max_wait
        self.sent = SentMessages()
        self.closed: set[int] = set()  # chats found closed to the bot (blocked, kicked...)
        self.rich_health = RichHealth(clock=clock)  # the sink shares its formatter's

    # -- must arrive ---------------------------------------------------------------------------

    async def deliver(
        self,
        chat_id: int,
        parts: Sequence[Part],
        *,
        reply_to: int | None,
        edit: int | None = None,
        markup: Markup = None,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> list[int]:
        """Show every part in order, the first by editing ``edit`` when given, each next one
        replying to the one before, the last with ``markup`` (buttons) under it; the ids shown.
        ``before_write`` is awaited when a write has its turn, just before it goes out. Raises
        ``DeliveryFailed``."""
        self.check_open(chat_id)
        deadline = self.clock() + self.max_wait
        ids: list[int] = []
        for index, part in enumerate(parts):
            target = edit if index == 0 else None
            shown = await self._put(
                chat_id,
                part,
                edit=target,
                reply_to=ids[-1] if ids else reply_to,
                until=deadline,
                markup=markup if index == len(parts) - 1 else None,
                before_write=before_write,
            )
            if not shown:
                raise DeliveryFailed(
                    f"chat {chat_id}: part {index + 1} of {len(parts)} could not be shown"
                )
            if target is not None and shown[0] != target:
                await self._remove(chat_id, target)  # the answer went out anew: drop the fragment
            ids += shown
        return ids

    async def _remove(self, chat_id: int, message_id: int) -> None:
        kind = functions.messages.DeleteMessagesRequest
        turn = self.pacer.try_turn(chat_id, kind, private=self.is_private(chat_id), chat=False)
        if turn is None:
            return
        try:
            with turn, self.flood_of(chat_id, kind):
                await self.client.delete_messages(chat_id, [message_id])
        except (errors.RPCError, ValueError, OSError) as exc:  # a leftover fragment, no more
            log.info("could not delete message %s of chat %s: %r", message_id, chat_id, exc)

    async def _put(
        self,
        chat_id: int,
        part: Part,
        *,
        edit: int | None,
        reply_to: int | None,
        until: float,
        markup: Markup = None,
        before_write: Callable[[], Awaitable[None]] | None = None,
    ) -> list[int]:
        """One part, however many tries it takes before ``until``; [] when it cannot be shown."""
        troubles = 0
        while True:
            if edit is not None and self.pacer.quiet_for(chat_id, EDIT):
                # Only edits are held: the answer need not wait for them.
                log.info("chat %s: edits are flood-waited; sending the answer anew", chat_id)
                edit = None
            await self.wait_out_flood(chat_id, SEND if edit is None else EDIT, until)
            turn = await self.pacer.turn(chat_id, private=self.is_private(chat_id))
            try:
                with turn:
                    if before_write is not None:
                        await before_write()
                    return await self.write(
                        chat_id, part, edit=edit, reply_to=reply_to, markup=markup
                    )
            except RichRefused as exc:
                # Never lose an answer to formatting: the same words as formatted text.
                log.info(
                    "chat %s refused a rich message (%s); sending formatted text", chat_id, exc
                )
                self.rich_health.refused(str(exc))
                return await self._each(
                    chat_id, part.fallback, edit=edit, reply_to=reply_to, until=until, markup=markup
                )
            except FLOODS as exc:
                log.info("chat %s: Telegram asks to wait %s s", chat_id, getattr(exc, "seconds", 0))
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
                if units(part.text) // 2 < _MIN_PIECE:
                    log.warning("chat %s: Telegram found a part too long", chat_id)
                    return []
                return await self._halves(
                    chat_id, part, edit=edit, reply_to=reply_to, until=until, markup=markup
                )
            except GONE as exc:
                raise self.gone(chat_id, exc) from exc
            except errors.BadRequestError as exc:
                if part.entities:
                    log.warning("Telegram refused the formatting (%r); sending plain text", exc)
                    part = part.plain()
                elif edit is None and reply_to is not None and "REPLY" in exc.message:
                    reply_to = None
                else:
                    log.warning("Telegram refused a message to chat %s: %r", chat_id, exc)
                    return []
            except (errors.RPCError, OSError, ConnectionError) as exc:
                # Telegram's or the network's trouble: try again, more slowly, until the deadline.
                troubles += 1
                delay = min(2.0**troubles, 30.0)
                log.warning("could not write to chat %s (%r); again in %s s", chat_id, exc, delay)
                if self.clock() + delay > until:
                    return []
                await self.sleep(delay)

    async def wait_out_flood(self, chat_id: int, kind: type, until: float) -> None:
        """Wait out this chat's FloodWait on requests of ``kind``, or raise ``DeliveryFailed``
        when it lasts past ``until``."""
        wait = self.pacer.quiet_for(chat_id, kind)
        if not wait:
            return
        if self.clock() + wait > until:
            raise DeliveryFailed(
                f"chat {chat_id}: Telegram asks to wait {wait:.0f} s more, past the "
                f"{self.max_wait:.0f} s a message may wait"
            )
        await self.sleep(wait)

    async def _halves(
        self,
        chat_id: int,
        part: Part,
        *,
        edit: int | None,
        reply_to: int | None,
        until: float,
        markup: Markup = None,
    ) -> list[int]:
        pieces = split(part.text, part.entities, units(part.text) // 2)
        return await self._each(
            chat_id, pieces, edit=edit, reply_to=reply_to, until=until, markup=markup
        )

    async def _each(
        self,
        chat_id: int,
        pieces: Sequence[Part],
        *,
        edit: int | None,
        reply_to: int | None,
        until: float,
        markup: Markup = None,
    ) -> list[int]:
        """``pieces`` in place of one part, each replying to the one before."""
        ids: list[int] = []
        for index, piece in enumerate(pieces):
            target = edit if index == 0 else None
            shown = await self._put(
                chat_id,
                piece,
                edit=target,
                reply_to=ids[-1] if ids else reply_to,
                until=until,
                markup=markup if index == len(pieces) - 1 else None,
            )
            if not shown:
                return []
            ids += shown
        return ids

    # -- interim -------------------------------------------------------------------------------

    async def attempt(
        self, chat_id: int, part: Part, *, edit: int | None, reply_to: int | None, first: bool
    ) -> list[int] | None:
        """One try at showing ``part``; None when it was not shown now (no room, a flood, a
        refusal). ``first``: the first text of an answer, which may wait for the pacer's turn
        (see ``Pacer.first_turn``) rather than give up when there is no room. Raises
        ``DeliveryFailed`` when the chat is closed."""
        self.check_open(chat_id)
        private = self.is_private(chat_id)
        kind = SEND if edit is None else EDIT
        if self.pacer.quiet_for(chat_id, kind):
            return None
        if first:
            turn = await self.pacer.first_turn(chat_id, private=private)
        else:
            turn = self.pacer.try_turn(chat_id, kind, private=private)
        if turn is None:
            return None
        try:
            with turn:
                try:
                    return await self.write(chat_id, part, edit=edit, reply_to=reply_to)
                except errors.MessageIdInvalidError:
                    if edit is None:
                        raise
                    log.info("message %s of chat %s is gone; sending anew", edit, chat_id)
                    return await self.write(chat_id, part, edit=None, reply_to=reply_to)
        except FLOODS:
            return None
        except errors.MessageNotModifiedError:
            return None if edit is None else [edit]
        except GONE as exc:
            raise self.gone(chat_id, exc) from exc
        except (errors.RPCError, OSError, ConnectionError) as exc:
            log.info("chat %s: an interim update was refused: %r", chat_id, exc)
            return None

    def check_open(self, chat_id: int) -> None:
        """Raise ``DeliveryFailed`` for a chat already found closed, without a request."""
        if chat_id in self.closed:
            raise DeliveryFailed(f"chat {chat_id} is closed to the bot")

    def gone(self, chat_id: int, exc: BaseException) -> DeliveryFailed:
        """Remember that the chat is closed; the error to raise."""
        log.info("chat %s is closed to the bot (%r)", chat_id, exc)
        if len(self.closed) > _SENT_KEPT:
            self.closed.clear()  # a memory, not a record: forgetting costs one request
        self.closed.add(chat_id)
        return DeliveryFailed(f"chat {chat_id} is closed to the bot ({exc!r})")

    # -- the requests --------------------------------------------------------------------------

    async def write(
        self,
        chat_id: int,
        part: Part,
        *,
        edit: int | None,
        reply_to: int | None,
        markup: Markup = None,
    ) -> list[int]:
        """Send or edit, once, with ``markup`` under it; FloodWaits are this chat's alone.
        Raises ``RichRefused`` when Telegram refuses a rich part for what it is."""
        if part.rich:
            return await self._write_rich(
                chat_id, part.rich, edit=edit, reply_to=reply_to, markup=markup
            )
        # An explicit (even empty) entity list keeps Telethon from parsing Markdown itself.
        entities = list(part.entities)
        if edit is not None:
            with self.flood_of(chat_id, EDIT):
                await self.client.edit_message(
                    chat_id,
                    edit,
                    part.text,
                    formatting_entities=entities,
                    link_preview=self.link_preview,
                    buttons=markup,
                )
            return [edit]
        with self.flood_of(chat_id, SEND):
            message = await self.client.send_message(
                chat_id,
                part.text,
                reply_to=reply_to,
                formatting_entities=entities,
                link_preview=self.link_preview,
                buttons=markup,
            )
        if message is None:  # Telethon could not match the sent message in the response
            log.warning("chat %s: sent a message but did not learn its id", chat_id)
            return []
        self.sent.add(chat_id, int(message.id))
        return [int(message.id)]

    async def _write_rich(
        self,
        chat_id: int,
        markdown: str,
        *,
        edit: int | None,
        reply_to: int | None,
        markup: Markup = None,
    ) -> list[int]:
        # Telethon's send_message and edit_message know no rich messages: the raw requests.
        peer = await self.client.get_input_entity(chat_id)
        content = types.InputRichMessageMarkdown(markdown=markdown)
        buttons = self.client.build_reply_markup(markup) if markup else None
        request: Any
        if edit is not None:
            request = functions.messages.EditMessageRequest(
                peer=peer,
                id=edit,
                rich_message=content,
                no_webpage=not self.link_preview,
                reply_markup=buttons,
            )
        else:
            request = functions.messages.SendMessageRequest(
                peer=peer,
                message="",
                rich_message=content,
                no_webpage=not self.link_preview,
                reply_to=None if reply_to is None else types.InputReplyToMessage(reply_to),
                random_id=helpers.generate_random_long(),
                reply_markup=buttons,
            )
        try:
            with self.flood_of(chat_id, type(request)):
                result = await self.client(request)
        except (errors.MessageNotModifiedError, errors.MessageIdInvalidError, *GONE):
            raise
        except errors.BadRequestError as exc:
            if "REPLY" in exc.message and not exc.message.startswith("RICH_"):
                raise  # about the message answered, not the formatting
            raise RichRefused(exc.message) from exc
        except TypeNotFoundError as exc:  # a layer that does not know the constructor
            raise RichRefused("unknown constructor") from exc
        self.rich_health.worked()
        if edit is not None:
            return [edit]
        message = self.client._get_response_message(request, result, peer)
        if message is None:
            log.warning("chat %s: sent a rich message but did not learn its id", chat_id)
            return []
        self.sent.add(chat_id, int(message.id))
        return [int(message.id)]

    @contextlib.contextmanager
    def flood_of(self, chat_id: int, request_type: type) -> Iterator[None]:
        """Around one request of ``request_type``: a FloodWait it earns is kept for this chat
        and this kind of request, not the client."""
        try:
            yield
        except FLOODS as exc:
            # Telethon has just remembered this wait for every chat (keyed by the request as it
            # went out, ``exc.request``); no other task has run since.
            forget_flood(self.client, request_type)
            sent = getattr(exc, "request", None)
            if sent is not None:
                forget_flood(self.client, type(sent))
            self.pacer.flooded(chat_id, request_type, float(getattr(exc, "seconds", 1) or 1))
            raise
