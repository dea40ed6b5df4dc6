"""Sending a picture as a Telegram photo (and any file as media: ``deliver_file``), as a message
that must arrive (``Writer.deliver``'s rules): paced, this chat's FloodWaits waited out up to the
writer's ``max_wait``, and ``DeliveryFailed`` when it cannot arrive.

The file is uploaded once; a retry sends the uploaded file again (Telegram keeps uploaded
parts for a while). A caption longer than Telegram takes for a photo goes as a text message
answering the photo instead: nothing of it is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import attrs
from telethon import errors
from telethon.tl import functions, types

from adapters.messengers.telegram.text import units
from adapters.messengers.telegram.writer import FLOODS, GONE, Writer
from core.errors import DeliveryFailed
from core.values import Picture

log = logging.getLogger(__name__)

CAPTION_LIMIT: Final = 1024  # UTF-16 units of a photo's caption (without Premium)
_NAMES: Final = {
    "image/png": "picture.png",
    "image/jpeg": "picture.jpg",
    "image/webp": "picture.webp",
}


def fits_caption(caption: str) -> bool:
    return units(caption) <= CAPTION_LIMIT


async def deliver_picture(
    writer: Writer, chat_id: int, picture: Picture, caption: str, reply_to: int | None
) -> Any:
    """Send ``picture`` as a photo with ``caption`` (plain text, short enough: ``fits_caption``);
    the message sent. Raises ``DeliveryFailed``."""
    name = _NAMES.get(picture.mime, "picture.png")
    return await deliver_file(
        writer,
        chat_id,
        File(picture.data, name, types.InputMediaUploadedPhoto, "picture"),
        caption,
        reply_to,
    )


@attrs.frozen
class File:
    """A file to send as media: its bytes and name, the media it is sent as once uploaded, and
    what it is called in a log line."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    name: str
    media: Callable[[Any], Any]  # the uploaded file -> the InputMedia to send
    what: str


async def deliver_file(
    writer: Writer, chat_id: int, file: File, caption: str, reply_to: int | None
) -> Any:
    """Send ``file`` with ``caption`` (plain text, short enough: ``fits_caption``); the message
    sent. Raises ``DeliveryFailed``."""
    what = file.what
    writer.check_open(chat_id)
    client = writer.client
    until = writer.clock() + writer.max_wait
    upload: Any = None
    troubles = 0
    while True:
        await writer.wait_out_flood(chat_id, functions.messages.SendMediaRequest, until)
        turn = await writer.pacer.turn(chat_id, private=writer.is_private(chat_id))
        try:
            with turn, writer.flood_of(chat_id, functions.messages.SendMediaRequest):
                if upload is None:
                    upload = await client.upload_file(file.data, file_name=file.name)
                message = await client.send_file(
                    chat_id,
                    file.media(upload),
                    caption=caption,
                    parse_mode=None,  # plain text: Telethon would parse Markdown
                    reply_to=reply_to,
                )
        except FLOODS as exc:
            log.info("chat %s: Telegram asks to wait %s s", chat_id, getattr(exc, "seconds", 0))
            continue
        except GONE as exc:
            raise writer.gone(chat_id, exc) from exc
        except errors.BadRequestError as exc:
            if reply_to is not None and (
                isinstance(exc, errors.MessageIdInvalidError) or "REPLY" in exc.message
            ):
                reply_to = None  # the request was deleted meanwhile: the file still goes
                continue
            raise DeliveryFailed(f"chat {chat_id}: Telegram refused the {what} ({exc!r})") from exc
        except (errors.RPCError, OSError, ConnectionError) as exc:
            troubles += 1
            delay = min(2.0**troubles, 30.0)
            log.warning(
                "could not send a %s to chat %s (%r); again in %s s", what, chat_id, exc, delay
            )
            if writer.clock() + delay > until:
                raise DeliveryFailed(f"chat {chat_id}: the {what} could not be sent") from exc
            await writer.sleep(delay)
            continue
        if message is None:  # Telethon could not match the sent message in the response
            raise DeliveryFailed(f"chat {chat_id}: sent a {what} but did not learn its id")
        writer.sent.add(chat_id, int(message.id))
        return message
