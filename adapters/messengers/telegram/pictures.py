"""Sending a picture as a Telegram photo, as a message that must arrive (``Writer.deliver``'s
rules): paced, this chat's FloodWaits waited out up to the writer's ``max_wait``, and
``DeliveryFailed`` when it cannot arrive.

The picture is uploaded once; a retry sends the uploaded file again (Telegram keeps uploaded
parts for a while). A caption longer than Telegram takes for a photo goes as a text message
answering the photo instead: nothing of it is lost.
"""

from __future__ import annotations

import logging
from typing import Any, Final

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
                    name = _NAMES.get(picture.mime, "picture.png")
                    upload = await client.upload_file(picture.data, file_name=name)
                message = await client.send_file(
                    chat_id,
                    types.InputMediaUploadedPhoto(file=upload),
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
                reply_to = None  # the request was deleted meanwhile: the picture still goes
                continue
            raise DeliveryFailed(f"chat {chat_id}: Telegram refused the picture ({exc!r})") from exc
        except (errors.RPCError, OSError, ConnectionError) as exc:
            troubles += 1
            delay = min(2.0**troubles, 30.0)
            log.warning(
                "could not send a picture to chat %s (%r); again in %s s", chat_id, exc, delay
            )
            if writer.clock() + delay > until:
                raise DeliveryFailed(f"chat {chat_id}: the picture could not be sent") from exc
            await writer.sleep(delay)
            continue
        if message is None:  # Telethon could not match the sent message in the response
            raise DeliveryFailed(f"chat {chat_id}: sent a picture but did not learn its id")
        writer.sent.add(chat_id, int(message.id))
        return message
