"""Sending to Matrix rooms: messages, a live answer by edits, pictures, typing.

Each room is paced on its own: when the homeserver answers ``M_LIMIT_EXCEEDED`` it says how
long to wait (``retry_after_ms``), and only that room waits; interim edits are skipped while a
room waits, so the final answer is the one that goes out. The final answer is rendered from
Markdown to ``formatted_body`` beside the plain ``body``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import nio

from adapters.messengers.matrix.addressing import replied_event, without_fallback
from adapters.messengers.matrix.attachments import MEDIA_TYPES, caption, describe
from adapters.messengers.matrix.html import to_html
from core.errors import DeliveryFailed
from core.values import Attachment, MediaKind, Node, Offer, Picture, Role

log = logging.getLogger(__name__)

# Characters of one message: a Matrix event is at most 64 KiB of JSON, with the text twice in
# it (body and formatted_body) and HTML's escapes.
PART_CHARS = 16_000
# Seconds between interim edits of an answer (Synapse's default allows 0.2 messages a second
# a user, with bursts of 10).
EDIT_INTERVAL = 2.0
MAX_TRIES = 5  # sends of one event, rate limits included
RECENT = 10_000  # events sent by this process it remembers (older ones are asked for)


def client_config() -> nio.AsyncClientConfig:
    """How the bot's nio client is set up: a rate limit comes back to the sink
    (``max_limit_exceeded=0``), which drops interim edits and waits per room, instead of nio
    sleeping inside the call, which would hold every room; no encryption (see README)."""
    return nio.AsyncClientConfig(max_limit_exceeded=0, encryption_enabled=False)


@attrs.define
class _Room:
    """One room's pacing: one send at a time, none before ``not_before``."""

    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    not_before: float = 0.0


@attrs.define
class MatrixSink:
    """The core's ``ReplySink`` and ``MessageLookup`` on a logged-in nio client."""

    client: nio.AsyncClient
    edit_interval: float = EDIT_INTERVAL
    clock: Callable[[], float] = time.monotonic
    # The newest events this process sent, as an ordered set (a dict), at most RECENT of them.
    _sent: dict[str, None] = attrs.field(factory=dict)
    _rooms: dict[str, _Room] = attrs.field(factory=dict)

    @property
    def bot_id(self) -> str:
        return str(self.client.user_id)

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        return [await self.post(chat_id, _content(text, markdown=False, reply_to=reply_to))]

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        name = "picture." + picture.mime.rsplit("/", 1)[-1]
        uploaded, _ = await self.client.upload(
            lambda *_: picture.data,
            content_type=picture.mime,
            filename=name,
            filesize=len(picture.data),
        )
        if not isinstance(uploaded, nio.UploadResponse):
            raise DeliveryFailed(f"Matrix: the picture could not be uploaded: {uploaded}")
        content: dict[str, Any] = {
            "msgtype": "m.image",
            "body": caption or name,
            "filename": name,  # so that clients show the body as the caption (MSC2530)
            "url": uploaded.content_uri,
            "info": {"mimetype": picture.mime, "size": len(picture.data)},
        }
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return [await self.post(chat_id, content)]

    def stream(self, chat_id: str, reply_to: str | None) -> MatrixStream:
        return MatrixStream(self, chat_id, reply_to)

    async def typing(self, chat_id: str) -> None:
        answer = await self.client.room_typing(chat_id, True, timeout=10_000)
        if isinstance(answer, nio.RoomTypingError) and answer.status_code == "M_FORBIDDEN":
            raise DeliveryFailed(f"Matrix: not in room {chat_id}")

    async def sent_by_bot(self, room_id: str, event_id: str) -> bool:
        """Whether the bot sent ``event_id``: known for the newest events this process sent,
        asked of the homeserver for any other (an answer from before a restart)."""
        if event_id in self._sent:
            return True
        answer = await self.client.room_get_event(room_id, event_id)
        return (
            isinstance(answer, nio.RoomGetEventResponse)
            and answer.event.source.get("sender") == self.bot_id
        )

    def _remember(self, event_id: str) -> None:
        self._sent[event_id] = None
        if len(self._sent) > RECENT:
            del self._sent[next(iter(self._sent))]

    async def lookup(self, chat_id: str, message_id: str) -> Node | None:
        """A message the thread store no longer has, from the homeserver."""
        answer = await self.client.room_get_event(chat_id, message_id)
        if not isinstance(answer, nio.RoomGetEventResponse):
            return None
        source = answer.event.source
        content = _latest(source)
        body = content.get("body")
        if not isinstance(body, str):
            return None
        parent = replied_event(content)
        role = Role.ASSISTANT if source.get("sender") == self.bot_id else Role.USER
        text = without_fallback(body) if parent else body
        pictures: tuple[Attachment, ...] = ()
        if content.get("msgtype") in MEDIA_TYPES:  # a file's name is not what was said
            text = caption(content)
            described = describe(content)
            if isinstance(described, Attachment) and described.kind is MediaKind.IMAGE:
                pictures = (described,)
        return Node(chat_id, message_id, role, text, parent, pictures)

    async def post(self, room_id: str, content: dict[str, Any], *, interim: bool = False) -> str:
        """Send ``content`` to ``room_id``; its event id. An interim edit is dropped (empty
        id) rather than waited for when the room must wait."""
        room = self._rooms.setdefault(room_id, _Room())
        if interim and (room.lock.locked() or self.clock() < room.not_before):
            return ""
        async with room.lock:
            for _ in range(MAX_TRIES):
                wait = room.not_before - self.clock()
                if wait > 0:
                    if interim:
                        return ""
                    await asyncio.sleep(wait)
                answer = await self.client.room_send(room_id, "m.room.message", content)
                if isinstance(answer, nio.RoomSendResponse):
                    self._remember(str(answer.event_id))
                    return str(answer.event_id)
                if answer.status_code != "M_LIMIT_EXCEEDED":
                    raise DeliveryFailed(f"Matrix: cannot send to {room_id}: {answer.message}")
                delay = (answer.retry_after_ms or 1_000) / 1_000
                log.info("room %s is rate-limited for %.1f s", room_id, delay)
                room.not_before = self.clock() + delay
        raise DeliveryFailed(f"Matrix: {room_id} stayed rate-limited")


def _latest(source: dict[str, Any]) -> dict[str, Any]:
    """An event's content as last edited: homeservers bundle the newest edit of an event with
    it (``unsigned.m.relations.m.replace``), and the answer's words are in that edit."""
    content: dict[str, Any] = source.get("content", {})
    relations = source.get("unsigned", {}).get("m.relations", {})
    edit = relations.get("m.replace") if isinstance(relations, dict) else None
    edited = edit.get("content", {}).get("m.new_content") if isinstance(edit, dict) else None
    if isinstance(edited, dict) and isinstance(edited.get("body"), str):
        # The new content has no reply of its own: the original's stays the parent.
        return {**edited, "m.relates_to": content.get("m.relates_to")}
    return content


def _content(
    text: str, *, markdown: bool, reply_to: str | None = None, edits: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if markdown:
        message |= {"format": "org.matrix.custom.html", "formatted_body": to_html(text)}
    if edits is not None:
        return {
            **message,
            "body": "* " + text,
            "m.new_content": message,
            "m.relates_to": {"rel_type": "m.replace", "event_id": edits},
        }
    if reply_to is not None:
        message["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return message


@attrs.define
class MatrixStream:
    """One answer: a message sent with the first words, edited as more come, and finished
    with the whole answer formatted (split into more messages, each replying to the one
    before, when it is long)."""

    sink: MatrixSink
    room_id: str
    reply_to: str | None
    _event: str | None = None
    _last_edit: float = 0.0
    _last_text: str = ""

    @property
    def shown(self) -> bool:
        return self._event is not None

    async def update(self, text: str) -> None:
        shown = text[:PART_CHARS]
        if self._event is None:
            self._event = await self.sink.post(
                self.room_id, _content(shown, markdown=False, reply_to=self.reply_to)
            )
            self._last_edit, self._last_text = self.sink.clock(), shown
            return
        now = self.sink.clock()
        if shown == self._last_text or now - self._last_edit < self.sink.edit_interval:
            return
        content = _content(shown, markdown=False, edits=self._event)
        if await self.sink.post(self.room_id, content, interim=True):
            self._last_edit, self._last_text = now, shown

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        if offer is not None:  # no buttons here: the command to type
            text += f"\n\n{offer.label}: {offer.command.split()[0]}"
        parts = _split(text or "…")
        ids: list[str] = []
        first = _content(parts[0], markdown=markdown, reply_to=self.reply_to, edits=self._event)
        if self._event is None:
            self._event = await self.sink.post(self.room_id, first)
        elif parts[0] != self._last_text or markdown:
            await self.sink.post(self.room_id, first)
        ids.append(self._event)
        for part in parts[1:]:
            ids.append(
                await self.sink.post(
                    self.room_id, _content(part, markdown=markdown, reply_to=ids[-1])
                )
            )
        return ids


def _split(text: str) -> list[str]:
    """``text`` in parts of at most PART_CHARS, cut at a paragraph, a line or a space."""
    parts: list[str] = []
    while len(text) > PART_CHARS:
        head = text[:PART_CHARS]
        cut = max(head.rfind("\n\n"), head.rfind("\n"), head.rfind(" "))
        cut = cut if cut > PART_CHARS // 2 else PART_CHARS
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return parts
