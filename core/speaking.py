"""Spoken answers: ``/voice on|off``, and an answer shown as text also sent as a voice note.

Reading aloud is priced per character spoken (``config.speech_tokens_per_char``) and follows
``/image``'s order: hold the price, make the speech, make the charge durable, then send it;
speech that cannot be made costs nothing, a voice note that cannot be delivered is refunded.
The text answer stands whatever happens to its voice note: a failure here is told in a message
of its own and never becomes the answer's.
"""

from __future__ import annotations

import logging
import math
import re

import attrs

from core import charges, errors
from core.charges import FixedCharges
from core.parts import Parts
from core.ports import Speaker, VoiceNoteSink
from core.replies import best_effort, who
from core.values import Account, Incoming, MessageId, Node, VoiceNote

log = logging.getLogger(__name__)

# Markdown that would be read out as symbols: fences, emphasis, headings, quotes, link targets.
_FENCE = re.compile(r"^[ \t]*(```|~~~).*\n?", re.MULTILINE)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_LINE_MARK = re.compile(r"^[ \t]*(#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+)", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__|~~|`|\*)")
_SENTENCE_END = re.compile(r"[.!?…:;](?=\s)|\n")


def speakable(markdown: str) -> str:
    """The text of a Markdown answer as it should be read: without its markup."""
    text = _FENCE.sub("", markdown)
    text = _LINK.sub(r"\1", text)
    text = _LINE_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def cut(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, ended at a sentence (or else a word) when one ends
    in the second half of what fits."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() > limit // 2]
    if ends:
        return head[: ends[-1]].rstrip()
    space = head.rfind(" ")
    return (head[:space] if space >= limit // 2 else head).rstrip()


@attrs.define
class Narrator:
    parts: Parts
    speaker: Speaker | None = None
    sink: VoiceNoteSink | None = None  # None: the messenger sends no voice notes
    charges: FixedCharges = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.charges = FixedCharges(self.parts)

    @property
    def available(self) -> bool:
        return self.speaker is not None and self.sink is not None

    async def switch(self, incoming: Incoming, account: Account, argument: str) -> None:
        """``/voice``: the person's setting; ``/voice on`` and ``/voice off`` change it."""
        price = self.parts.config.speech_tokens_per_char
        word = argument.strip().lower()
        if word not in ("", "on", "off"):
            await self.parts.replies.say(incoming, "speech_usage")
            return
        if word != "off" and not self.available:
            await self.parts.replies.say(incoming, "speech_unavailable")
            return
        if not word:
            key = "speech_state_on" if account.voice else "speech_state_off"
            await self.parts.replies.say(incoming, key, price=price)
            return
        on = word == "on"
        await self.parts.accounts.change(account.user_id, lambda a: attrs.evolve(a, voice=on))
        if on:
            limit = self.parts.config.max_speech_chars
            await self.parts.replies.say(incoming, "speech_on", price=price, limit=limit)
        else:
            await self.parts.replies.say(incoming, "speech_off")

    async def follow(
        self, incoming: Incoming, account: Account, answer: str, reply_to: MessageId | None
    ) -> None:
        """Send ``answer`` (Markdown, as shown) as a voice note replying to ``reply_to``, when
        the person asked for voice notes. Never raises but for a cancel: the text answer is
        delivered and charged already, whatever becomes of its voice."""
        if not account.voice or self.speaker is None or self.sink is None:
            return
        whole = speakable(answer)
        if not whole:
            return
        try:
            await self._speak(incoming, whole, reply_to)
        except Exception:
            # A bug, or a store that failed before anything was held: said plainly, and what
            # was held is given back (``released_on_error``).
            log.exception("reading the answer to message %s aloud failed", incoming.message_id)
            reason = self.parts.replies.text(incoming, "err_other")
            await best_effort(self.parts.replies.say(incoming, "speech_failed", reason=reason))

    async def _speak(self, incoming: Incoming, whole: str, reply_to: MessageId | None) -> None:
        assert self.speaker is not None
        assert self.sink is not None
        spoken = cut(whole, self.parts.config.max_speech_chars)
        price = math.ceil(len(spoken) * self.parts.config.speech_tokens_per_char)
        user_id = incoming.sender.id
        charge = await self.charges.hold(user_id, price)
        if charge is None:
            available = await charges.available(self.parts.accounts, user_id)
            await self.parts.replies.say(
                incoming, "no_balance_speech", available=available, needed=price
            )
            return
        async with self.charges.released_on_error(charge):
            note = await self._make(incoming, spoken)
        if note is None:
            await self.charges.release(charge)
            return
        settled = await self.charges.settle(charge, price)
        caption = self._caption(incoming, settled.charged, settled.paid)
        if len(spoken) < len(whole):
            caption += self.parts.replies.text(
                incoming, "speech_cut", spoken=len(spoken), total=len(whole)
            )
        try:
            ids = await self.sink.send_voice(incoming.chat_id, note, caption, reply_to)
        except Exception as exc:
            log.warning("voice note for message %s not delivered (%r)", incoming.message_id, exc)
            if settled.charged:
                await charges.refund(
                    self.parts.accounts, user_id, settled.charged, admin=settled.admin
                )
            self.parts.notices.post("admin_not_delivered", who=who(incoming.sender))
            return
        # Not a turn of the conversation: a reply to the voice note continues from the text
        # answer it reads (the walk passes through it to its parent).
        parent = reply_to or incoming.message_id
        await self.parts.remember([Node(incoming.chat_id, i, None, "", parent) for i in ids])

    async def _make(self, incoming: Incoming, text: str) -> VoiceNote | None:
        assert self.speaker is not None
        try:
            return await self.speaker.speak(text, language=self.parts.replies.language(incoming))
        except errors.ModelError as exc:
            log.warning("reading aloud for %s failed: %r", incoming.sender.id, exc)
            await self.parts.model_failed(incoming, exc, "speech_failed", "speech")
            return None

    def _caption(self, incoming: Incoming, charged: int, paid: bool) -> str:
        if not paid:
            return self.parts.replies.text(incoming, "speech_caption_unpaid")
        if not charged or not self.parts.config.footer:
            return self.parts.replies.text(incoming, "speech_caption_free")
        return self.parts.replies.text(incoming, "speech_caption", tokens=charged)
