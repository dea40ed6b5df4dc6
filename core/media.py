"""What comes with a message besides its text: speech to transcribe, files to read, pictures.

Before a message with media is answered, its voice note is transcribed (charged by the second,
held first, nothing charged when it fails) and its files are read into its text; its pictures
go on with it to the answer, which sends them to a model that can see.
"""

from __future__ import annotations

import logging
import math
import re

import attrs

from core import charges, errors
from core.charges import Charged, FixedCharges
from core.parts import Parts
from core.ports import DocumentReader, Transcriber
from core.texts import FALLBACK, LANGUAGES
from core.values import Account, Attachment, Incoming, MediaKind, Node

log = logging.getLogger(__name__)

# When the messenger does not say how long a recording is, its length is estimated from its
# size at the bit rate of a voice note (Opus at 16 kbit/s), and the charge is labelled "≈".
VOICE_BYTES_PER_SECOND = 2_000
# How much of a transcript is quoted back to the person before the answer.
QUOTE_CHARS = 300
# A lone surrogate cannot be stored nor sent (it is no UTF-8): text from outside (a message, a
# server's transcript, a file's name) has each replaced by U+FFFD first.
SURROGATE = re.compile("[\ud800-\udfff]")


def mend(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD."""
    return SURROGATE.sub("\ufffd", text)


@attrs.frozen
class Prepared:
    """A message ready to be answered: its text (transcript and files included) and its
    pictures."""

    text: str
    pictures: tuple[Attachment, ...] = ()
    # What transcribing cost, to be given back if the message is not answered after all: a
    # request reported as failed ("Nothing was charged") must have changed nothing.
    charged: Charged | None = None


@attrs.define
class MediaReader:
    parts: Parts
    transcriber: Transcriber | None = None
    documents: DocumentReader | None = None
    charges: FixedCharges = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.charges = FixedCharges(self.parts)

    async def prepare(self, incoming: Incoming, account: Account, text: str) -> Prepared | None:
        """The message to answer, or None when it cannot be (and the person was told)."""
        if not incoming.attachments:
            return Prepared(text)
        if self.parts.media is None:
            await self.parts.replies.say(incoming, "media_off")
            return None
        # Files first: one that cannot be read is refused before a recording is paid for.
        files: list[str] = []
        for document in (a for a in incoming.attachments if a.kind is MediaKind.DOCUMENT):
            content = await self._read(incoming, document)
            if content is None:
                return None
            files.append(content)
        spoken: list[str] = []
        charged: Charged | None = None
        voice = next((a for a in incoming.attachments if a.kind is MediaKind.VOICE), None)
        if voice is not None:  # a messenger sends one recording a message
            heard = await self._transcribe(incoming, account, voice)
            if heard is None:
                return None
            spoken.append(heard[0])
            charged = heard[1]
        parts = [part for part in (text, *spoken, *files) if part]
        pictures = tuple(a for a in incoming.attachments if a.kind is MediaKind.IMAGE)
        return Prepared("\n\n".join(parts), pictures, charged)

    # -- voice ---------------------------------------------------------------------------------

    async def _transcribe(
        self, incoming: Incoming, account: Account, voice: Attachment
    ) -> tuple[str, Charged] | None:
        """The transcript of ``voice`` and what it was charged; None when there is none (the
        person was told, nothing was charged)."""
        assert self.parts.media is not None
        if self.transcriber is None:
            await self.parts.replies.say(incoming, "voice_off")
            return None
        limit = self.parts.config.max_voice_seconds
        declared = _length(voice.duration)
        if declared is not None and declared > limit:
            await self.parts.replies.say(
                incoming, "voice_too_long", seconds=math.ceil(declared), limit=limit
            )
            return None
        # The recording is fetched and measured before anything is held: the hold, and so the
        # charge, follow the longer of what the client declared and what the data holds.
        try:
            audio = await self.parts.media.fetch(
                incoming.chat_id, voice, self.parts.config.max_voice_bytes
            )
        except errors.MediaError as exc:
            await self._media_failed(incoming, exc, "voice", self.parts.config.max_voice_bytes)
            return None
        measured: float | None = None
        if self.parts.probe is not None:
            measured = _length(await self.parts.probe.recording(audio))
            if measured is None:
                log.info("not a recording from %s: %s bytes", incoming.sender.id, len(audio))
                await self.parts.replies.say(incoming, "voice_unreadable")
                return None
        known = [s for s in (declared, measured) if s is not None]
        if known:
            seconds = max(known)
            if seconds > limit:
                await self.parts.replies.say(
                    incoming, "voice_too_long", seconds=math.ceil(seconds), limit=limit
                )
                return None
        else:  # no probe and no declared length: an estimate from the bytes, held at most
            seconds = min(len(audio) / VOICE_BYTES_PER_SECOND, limit)
        cost = self._voice_cost(seconds)
        charge = await self.charges.hold(account.user_id, cost)
        if charge is None:
            available = await charges.available(self.parts.accounts, account.user_id)
            await self.parts.replies.say(
                incoming, "no_balance_voice", available=available, needed=cost
            )
            return None
        async with self.charges.released_on_error(charge):
            transcript = await self._hear(incoming, voice, audio)
            if transcript is None or not transcript[0].strip():
                await self.charges.release(charge)
                if transcript is not None:
                    await self.parts.replies.say(incoming, "voice_empty")
                return None
            heard, reported = transcript
            # The longest of what the client, the data and the server say; none of them: the
            # estimate from the bytes, labelled as one.
            server = _length(reported)
            if server is not None:
                known.append(server)
            seconds = max(known) if known else len(audio) / VOICE_BYTES_PER_SECOND
            tokens = self._voice_cost(seconds)
        settled = await self.charges.settle(charge, tokens, estimated=not known)
        await self._quote(incoming, heard, seconds, settled.charged, settled.paid, not known)
        return heard, settled

    def _voice_cost(self, seconds: float) -> int:
        seconds = min(max(seconds, 0.0), 1e9)  # a server's absurd length stays a number
        return math.ceil(seconds * self.parts.config.transcription_tokens_per_second - 1e-9)

    async def _hear(
        self, incoming: Incoming, voice: Attachment, audio: bytes
    ) -> tuple[str, float | None] | None:
        """The words and the length the server measured; None when it failed (the person was
        told)."""
        assert self.transcriber is not None
        try:
            transcript = await self.transcriber.transcribe(
                audio,
                name=voice.name or _default_name(voice),
                mime=voice.mime,
                language=incoming.sender.language,
            )
        except errors.ContextTooLong as exc:  # the server's word for a file too large for it
            log.warning("the transcriber refused a recording as too large: %r", exc)
            await self._media_failed(
                incoming, errors.MediaTooLarge(str(exc)), "voice", self.parts.config.max_voice_bytes
            )
            return None
        except errors.ModelError as exc:
            log.warning("transcribing a voice message of %s failed: %r", incoming.sender.id, exc)
            await self.parts.model_failed(incoming, exc, "voice_failed", "voice")
            return None
        return mend(transcript.text).strip(), transcript.seconds

    async def _quote(
        self,
        incoming: Incoming,
        heard: str,
        seconds: float,
        tokens: int,
        paid: bool,
        estimated: bool,
    ) -> None:
        """Show the person what was heard, so that a misheard word explains an odd answer."""
        quote = heard if len(heard) <= QUOTE_CHARS else heard[: QUOTE_CHARS - 1].rstrip() + "…"
        if not paid:
            key = "voice_heard_unpaid"
        elif tokens == 0:
            key = "voice_heard_free"
        else:
            key = "voice_heard_estimated" if estimated else "voice_heard"
        try:
            ids = await self.parts.replies.say(
                incoming, key, text=quote, seconds=seconds, tokens=tokens
            )
        except errors.DeliveryFailed as exc:
            log.warning("could not quote a transcript in chat %s: %s", incoming.chat_id, exc)
            return
        # A reply to the quote continues the conversation of the voice message.
        nodes = [Node(incoming.chat_id, i, None, "", incoming.message_id) for i in ids]
        await self.parts.remember(nodes)

    # -- files ---------------------------------------------------------------------------------

    async def _read(self, incoming: Incoming, document: Attachment) -> str | None:
        """The file as a part of the message's text, or None (the person was told)."""
        assert self.parts.media is not None
        name = document.name or _default_name(document)
        if self.documents is None:
            await self.parts.replies.say(incoming, "files_off")
            return None
        limit = self.parts.config.max_document_bytes
        try:
            data = await self.parts.media.fetch(incoming.chat_id, document, limit)
        except errors.MediaError as exc:
            await self._media_failed(incoming, exc, "file", limit)
            return None
        try:
            content = await self.documents.read(data, name=document.name, mime=document.mime)
        except errors.UnreadableDocument as exc:
            log.info("could not read %r from %s: %s", name, incoming.sender.id, exc)
            key = f"file_{exc.reason}"
            await self.parts.replies.say(
                incoming, key if _known(key) else "file_unsupported", name=name
            )
            return None
        return mend(f"[File: {name}]\n{content.strip()}\n[End of file: {name}]")

    async def _media_failed(
        self, incoming: Incoming, exc: errors.MediaError, what: str, limit: int
    ) -> None:
        log.info("could not fetch a %s from %s: %r", what, incoming.sender.id, exc)
        if isinstance(exc, errors.MediaTooLarge):
            await self.parts.replies.say(incoming, f"{what}_too_large", megabytes=_megabytes(limit))
        else:
            await self.parts.replies.say(incoming, "media_unavailable")


def _length(seconds: float | None) -> float | None:
    """A length of speech that can be charged: None for one unknown, negative or not finite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _default_name(attachment: Attachment) -> str:
    return "voice.ogg" if attachment.kind is MediaKind.VOICE else "file"


def _megabytes(limit: int) -> str:
    return f"{limit / 1_000_000:g}"


def _known(key: str) -> bool:
    return key in LANGUAGES[FALLBACK].texts
