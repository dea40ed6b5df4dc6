"""The Matrix side of the bot: sync with the homeserver, join rooms, hand messages to the core.

One long-polling sync loop receives everything. Events that were in rooms before this start
are not answered (the first sync only marks where to begin). Invites are accepted from those
the bot serves (``invites``: the core's access list) and declined from anyone else; a room that
is end-to-end encrypted gets one plain message saying the bot cannot read it and how to make a
room it can: the bot never stays silent on a message it cannot read. Voice notes, pictures and
files go to the core as attachments (``attachments``), fetched later by ``media``; other media
(videos, stickers, locations) is answered here as something the bot cannot use.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import attrs
import nio

from adapters.messengers.matrix.addressing import read, replied_event
from adapters.messengers.matrix.attachments import MEDIA_TYPES, caption, describe
from adapters.messengers.matrix.sink import MatrixSink
from core.texts import text
from core.values import Attachment, Incoming, Sender

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
_TEXT_TYPES = frozenset({"m.text", "m.notice", "m.emote"})


@attrs.define
class MatrixBot:
    client: nio.AsyncClient
    sink: MatrixSink
    submit: Callable[[Incoming], object]
    known_commands: Collection[str] = ()
    # Whether an invite from this person to this room is taken (None: every invite).
    invites: Callable[[Sender, str], Awaitable[bool]] | None = None
    language: str = "en"
    sync_timeout_ms: int = SYNC_TIMEOUT_MS
    _since: str | None = None
    _told_encrypted: set[str] = attrs.field(factory=set)
    _stopping: asyncio.Event = attrs.field(factory=asyncio.Event)

    async def start(self) -> None:
        """Mark where to begin: what happened before this start is not answered."""
        first = await self.client.sync(timeout=0, full_state=True, sync_filter=_first_filter())
        if not isinstance(first, nio.SyncResponse):
            raise ConnectionError(f"Matrix: the first sync failed: {first}")
        self._since = first.next_batch
        for room_id, info in first.rooms.invite.items():
            await self._invited(room_id, info)

    async def run(self) -> None:
        """Sync and hand over messages until ``stop``."""
        while not self._stopping.is_set():
            answer = await self.client.sync(timeout=self.sync_timeout_ms, since=self._since)
            if not isinstance(answer, nio.SyncResponse):
                log.warning("Matrix sync failed (%s); trying again", answer)
                await asyncio.sleep(1)
                continue
            self._since = answer.next_batch
            await self._handle(answer)

    def stop(self) -> None:
        self._stopping.set()

    async def _handle(self, answer: nio.SyncResponse) -> None:
        for room_id, info in answer.rooms.invite.items():
            await self._invited(room_id, info)
        for room_id, joined in answer.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            for event in joined.timeline.events:
                source: dict[str, Any] = event.source
                log.debug("event in %s: %s", room_id, source)
                if source.get("sender") == self.sink.bot_id:
                    continue
                kind = source.get("type")
                if isinstance(event, nio.MegolmEvent) or kind == "m.room.encrypted":
                    await self._tell_encrypted(room_id)
                elif kind in {"m.room.message", "m.sticker"}:
                    await self._message(room, source)

    async def _invited(self, room_id: str, info: nio.InviteInfo) -> None:
        """Join, when the person who invited the bot may use it; otherwise decline."""
        inviter = _inviter(info, self.sink.bot_id)
        if self.invites is not None and not (
            inviter is not None and await self.invites(Sender(inviter), room_id)
        ):
            log.info("declined the invite of %s to %s: not on the access list", inviter, room_id)
            declined = await self.client.room_leave(room_id)
            if isinstance(declined, nio.RoomLeaveError):
                log.warning("could not decline the invite to %s: %s", room_id, declined)
            return
        await self._join(room_id)

    async def _join(self, room_id: str) -> None:
        joined = await self.client.join(room_id)
        if isinstance(joined, nio.JoinError):
            log.warning("could not join %s: %s", room_id, joined)
            return
        log.info("joined %s", room_id)

    async def _tell_encrypted(self, room_id: str) -> None:
        if room_id in self._told_encrypted:
            return
        self._told_encrypted.add(room_id)
        log.warning("room %s is encrypted: told its people the bot cannot read it", room_id)
        try:
            await self.sink.send(room_id, text(self.language, "encrypted_room"))
        except Exception as exc:  # the room may not even accept plain messages
            log.warning("could not say so in %s: %r", room_id, exc)

    async def _message(self, room: nio.MatrixRoom, source: dict[str, Any]) -> None:
        content = source.get("content", {})
        if not isinstance(content, dict):
            return
        msgtype = "m.sticker" if source.get("type") == "m.sticker" else content.get("msgtype")
        if msgtype not in _TEXT_TYPES and msgtype not in MEDIA_TYPES and msgtype != "m.sticker":
            return  # a client's own kind of message (a poll, a call...): nothing to answer
        if isinstance(content.get("m.relates_to"), dict) and (
            content["m.relates_to"].get("rel_type") == "m.replace"
        ):
            return  # an edit of an earlier message: it was answered as it was
        attachment: Attachment | None = None
        words = content
        if msgtype not in _TEXT_TYPES:
            described = describe(content)
            attachment = described if isinstance(described, Attachment) else None
            words = {**content, "body": caption(content)}  # a file's name is no request
        replied = replied_event(content)
        # A reply in a group is for the bot when it replies to the bot's message: one this
        # process sent, or (after a restart) one the homeserver says the bot sent.
        bots = replied is not None and room.member_count > 2
        bots = bots and await self.sink.sent_by_bot(room.room_id, str(replied))
        reading = read(
            words,
            bot_id=self.sink.bot_id,
            bot_name=room.user_name(self.sink.bot_id),
            members=room.member_count,
            bot_events={str(replied)} if bots else (),
            known_commands=self.known_commands,
        )
        if not reading.for_bot:
            return
        sender = str(source.get("sender"))
        private = room.member_count <= 2
        if msgtype not in _TEXT_TYPES and attachment is None:
            if not private and not reading.text:
                return  # a sticker answering the bot in a group: a reaction, not a request
            await self._refuse(room.room_id, str(source.get("event_id")), sender)
            return
        self.submit(
            Incoming(
                chat_id=room.room_id,
                message_id=str(source.get("event_id")),
                sender=Sender(sender, name=room.user_name(sender), username=sender),
                text=reading.text,
                reply_to=reading.reply_to,
                private=private,
                attachments=() if attachment is None else (attachment,),
                replies_in_private=True,
            )
        )

    async def _refuse(self, room_id: str, event_id: str, sender: str) -> None:
        """A video, a sticker, a location, an encrypted file: said plainly, not ignored."""
        log.info("room %s: answering %s from %s as unsupported", room_id, event_id, sender)
        try:
            await self.sink.send(room_id, text(self.language, "message_unsupported"), event_id)
        except Exception as exc:  # a room the bot was just removed from, say
            log.info("could not answer %s: %r", event_id, exc)


def _first_filter() -> dict[str, Any]:
    """The filter of the first sync: one event a room (it only marks where to begin), and a
    part no other request has. Synapse keeps a sync's answer for two minutes and gives it
    again to the same request (same token, same filter): a bot restarted within that time
    would begin where its previous start began, and answer again everything since (a /stop
    too)."""
    marker = f"org.gptbot.start.{secrets.token_hex(8)}"
    return {"room": {"timeline": {"limit": 1}}, "presence": {"not_types": [marker]}}


def _inviter(info: nio.InviteInfo, bot_id: str) -> str | None:
    """Who invited the bot, from the room's invite state (the bot's own membership event)."""
    for event in info.invite_state:
        source = getattr(event, "source", None) or {}
        if source.get("type") == "m.room.member" and source.get("state_key") == bot_id:
            sender = source.get("sender")
            return sender if isinstance(sender, str) else None
    return None
