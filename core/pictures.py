"""``/image <description>``: a picture made to order, at a fixed price.

The same order as an answer: hold the price, make the picture, make the charge durable, then
send it; a picture that cannot be made costs nothing, one that cannot be delivered is refunded.
"""

from __future__ import annotations

import logging

import attrs

from core import charges, errors
from core.answering import error_key, refund
from core.charges import FixedCharges
from core.config import BotConfig
from core.notices import Notices
from core.ports import AccountStore, Clock, ImageMaker, ThreadStore
from core.replies import Replies, who
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
    config: BotConfig
    accounts: AccountStore
    threads: ThreadStore
    replies: Replies
    notices: Notices
    clock: Clock
    maker: ImageMaker | None = None
    charges: FixedCharges = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.charges = FixedCharges(self.config, self.accounts, self.notices, self.clock)

    async def draw(self, incoming: Incoming, account: Account, prompt: str) -> None:
        if self.maker is None:
            await self.replies.say(incoming, "images_off")
            return
        if not prompt:
            await self.replies.say(incoming, "image_usage", price=self.config.image_price)
            return
        price = self.config.image_price
        held = await self.charges.hold(account.user_id, price)
        if held is None:
            available = await charges.available(self.accounts, account.user_id)
            await self.replies.say(incoming, "no_balance_image", available=available, needed=price)
            return
        async with self.charges.released_on_error(held):
            picture = await self._make(incoming, prompt)
        if picture is None:
            await self.charges.release(held)
            return
        settled = await self.charges.settle(held, price)
        charged = settled.charged
        paid = settled.paid
        caption = self._caption(incoming, prompt, charged, paid)
        try:
            ids = await self.replies.sink.send_picture(
                # Always a reply, in a private chat too: the picture shows what it was made of.
                incoming.chat_id,
                picture,
                caption,
                incoming.message_id,
            )
        except errors.DeliveryFailed as exc:
            log.warning("picture for message %s not delivered (%s)", incoming.message_id, exc)
            if charged:
                await refund(self.accounts, incoming.sender.id, charged, admin=held.admin)
            self.notices.post("admin_not_delivered", who=who(incoming.sender))
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
        try:
            await self.threads.add(nodes)
        except errors.StorageError as exc:
            log.error("could not save the reply chain: %s", exc)
            self.notices.post("admin_storage", detail=str(exc))

    async def _make(self, incoming: Incoming, prompt: str) -> Picture | None:
        assert self.maker is not None
        try:
            await self.replies.sink.typing(incoming.chat_id)
        except Exception as exc:  # a courtesy: the picture can do without it
            log.warning("could not show typing in chat %s: %r", incoming.chat_id, exc)
        try:
            return await self.maker.make(prompt)
        except errors.ModelError as exc:
            log.warning("making a picture for %s failed: %r", incoming.sender.id, exc)
            reason = self.replies.text(incoming, error_key(exc))
            await self.replies.say(incoming, "image_failed", reason=reason)
            return None

    def _caption(self, incoming: Incoming, prompt: str, charged: int, paid: bool) -> str:
        shown = prompt if len(prompt) <= CAPTION_CHARS else prompt[: CAPTION_CHARS - 1] + "…"
        if not paid:
            return self.replies.text(incoming, "image_caption_unpaid", prompt=shown)
        if not charged:
            return shown
        return self.replies.text(incoming, "image_caption", prompt=shown, tokens=charged)
