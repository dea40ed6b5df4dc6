"""``/image <description>``: a picture made to order, at a fixed price.

The same order as an answer: hold the price, make the picture, make the charge durable, then
send it; a picture that cannot be made costs nothing, one that cannot be delivered is refunded.
"""

from __future__ import annotations

import logging

import attrs

from core import charges, errors
from core.charges import FixedCharges
from core.parts import Parts
from core.ports import ImageMaker
from core.replies import who
from core.values import Account, Incoming, Node, Picture, Role

log = logging.getLogger(__name__)

# Most characters of a description shown under the picture (a messenger's caption is short).
CAPTION_CHARS = 200
# How the conversation remembers the request and the picture: the model reads these turns if
# the person replies to the picture.
ASKED = "Draw a picture: {prompt}"
DRAWN = "[A picture drawn for the description: {prompt}]"


@attrs.define
class Painter:
    parts: Parts
    maker: ImageMaker | None = None
    charges: FixedCharges = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.charges = FixedCharges(self.parts)

    async def draw(self, incoming: Incoming, account: Account, prompt: str) -> None:
        if self.maker is None:
            await self.parts.replies.say(incoming, "images_off")
            return
        if not prompt:
            await self.parts.replies.say(
                incoming, "image_usage", price=self.parts.config.image_price
            )
            return
        price = self.parts.config.image_price
        charge = await self.charges.hold(account.user_id, price)
        if charge is None:
            available = await charges.available(self.parts.accounts, account.user_id)
            await self.parts.replies.say(
                incoming, "no_balance_image", available=available, needed=price
            )
            return
        async with self.charges.released_on_error(charge):
            picture = await self._make(incoming, prompt)
        if picture is None:
            await self.charges.release(charge)
            return
        settled = await self.charges.settle(charge, price)
        charged = settled.charged
        paid = settled.paid
        caption = self._caption(incoming, prompt, charged, paid)
        try:
            ids = await self.parts.replies.sink.send_picture(
                # Always a reply, in a private chat too: the picture shows what it was made of.
                incoming.chat_id,
                picture,
                caption,
                incoming.message_id,
            )
        except errors.DeliveryFailed as exc:
            log.warning("picture for message %s not delivered (%s)", incoming.message_id, exc)
            if charged:
                await charges.refund(
                    self.parts.accounts,
                    incoming.sender.id,
                    charged,
                    admin=charge.admin,
                    at=self.parts.clock.now(),
                )
            self.parts.notices.post("admin_not_delivered", who=who(incoming.sender))
            return
        nodes = [
            Node(
                incoming.chat_id,
                incoming.message_id,
                Role.USER,
                ASKED.format(prompt=prompt),
                incoming.reply_to,
            )
        ]
        nodes += [
            Node(
                incoming.chat_id,
                i,
                Role.ASSISTANT,
                DRAWN.format(prompt=prompt),
                incoming.message_id,
            )
            for i in ids
        ]
        await self.parts.remember(nodes)

    async def _make(self, incoming: Incoming, prompt: str) -> Picture | None:
        assert self.maker is not None
        await self.parts.typing(incoming.chat_id)
        try:
            return await self.maker.make(prompt)
        except errors.ModelError as exc:
            log.warning("making a picture for %s failed: %r", incoming.sender.id, exc)
            await self.parts.model_failed(incoming, exc, "image_failed", "image")
            return None

    def _caption(self, incoming: Incoming, prompt: str, charged: int, paid: bool) -> str:
        shown = prompt if len(prompt) <= CAPTION_CHARS else prompt[: CAPTION_CHARS - 1] + "…"
        if not paid:
            return self.parts.replies.text(incoming, "image_caption_unpaid", prompt=shown)
        if not charged:
            return shown
        return self.parts.replies.text(incoming, "image_caption", prompt=shown, tokens=charged)
