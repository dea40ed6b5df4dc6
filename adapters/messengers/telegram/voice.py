"""Sending a voice note: an OGG/Opus document with the audio attribute's ``voice`` flag, its
length in whole seconds and its waveform (100 bars of 5 bits, ``telethon.utils.encode_waveform``),
which is what makes Telegram show a voice note with its bars instead of a music file."""

from __future__ import annotations

from typing import Any

from telethon import utils
from telethon.tl import types

from adapters.media.waveform import waveform
from adapters.messengers.telegram.pictures import File, deliver_file
from adapters.messengers.telegram.writer import Writer
from core.values import VoiceNote


def voice_media(voice: VoiceNote) -> File:
    """``voice`` as the file Telegram shows as a voice note."""
    audio = types.DocumentAttributeAudio(
        duration=max(round(voice.seconds), 1),
        voice=True,
        waveform=utils.encode_waveform(waveform(voice.data)),
    )

    def media(upload: Any) -> Any:
        return types.InputMediaUploadedDocument(
            file=upload, mime_type="audio/ogg", attributes=[audio]
        )

    return File(voice.data, "voice.ogg", media, "voice note")


async def deliver_voice(
    writer: Writer, chat_id: int, voice: VoiceNote, caption: str, reply_to: int | None
) -> Any:
    """Send ``voice`` as a voice note with ``caption`` (plain text, short enough); the message
    sent. Raises ``DeliveryFailed``."""
    return await deliver_file(writer, chat_id, voice_media(voice), caption, reply_to)
