"""Buying tokens: packs offered for Stars, the pre-checkout answered, each payment credited once.

A payment is credited exactly once per charge id, whatever the messenger reports again (Telegram
redelivers an update; a standby takes over; a process dies between the credit and the
thank-you): the store records the charge and credits the tokens in one atomic, durable step
that does nothing for a charge id it has (``AccountStore.credit``), and only then is the payer
thanked. A refund is the same in reverse (``AccountStore.take_back``), after the payment system
gave the Stars back; a balance may go below zero then, and the admin is told so.

The messenger's payments are a port (``Payments``); a messenger without any offers nothing to
buy, and /buy says so plainly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import attrs

from core import errors
from core.access import Gate
from core.parts import Parts
from core.ports import Payments
from core.replies import best_effort, who
from core.values import Account, Incoming, Pack, Payment, Purchase, Sender

log = logging.getLogger(__name__)


@attrs.define
class Shop:
    parts: Parts
    packs: Sequence[Pack]
    payments: Payments | None  # None: the messenger takes no payments
    gate: Gate
    stopping: Callable[[], bool]

    @property
    def open(self) -> bool:
        """Whether there is anything to buy: payments, and packs to pay for."""
        return self.payments is not None and bool(self.packs)

    def pack(self, stars: int) -> Pack | None:
        """The pack offered for ``stars``."""
        return next((pack for pack in self.packs if pack.stars == stars), None)

    async def offer(self, incoming: Incoming) -> None:
        """``/buy``: one invoice per pack."""
        if self.payments is None:
            await self.parts.replies.say(incoming, "buy_unavailable")
            return
        if not self.packs:
            await self.parts.replies.say(incoming, "buy_none")
            return
        await self.parts.replies.say(incoming, "buy_offer")
        for pack in self.packs:
            await self.payments.invoice(
                incoming.chat_id,
                pack,
                self.parts.replies.text(incoming, "invoice_title", tokens=pack.tokens),
                self.parts.replies.text(incoming, "invoice_description", tokens=pack.tokens),
            )

    async def precheckout(self, sender: Sender, chat_id: str, payload: str, stars: int) -> str:
        """Whether a payment about to be made may go ahead: "" for yes, else the text of the
        reason the payer is shown. Quick: the messenger must answer within seconds."""
        language = Incoming(chat_id, "", sender, "")
        if self.stopping():
            return self.parts.replies.text(language, "pay_stopping")
        pack = Pack.from_payload(payload)
        if pack is None or pack not in self.packs or pack.stars != stars:
            return self.parts.replies.text(language, "pay_unknown_pack")
        if sender.id != self.parts.config.admin_id:
            allowed = await self.gate.allows(sender, chat_id)
            account = await self.parts.accounts.get(sender.id)
            if not allowed or (account is not None and account.banned):
                return self.parts.replies.text(language, "pay_refused")
        return ""

    async def paid(self, payment: Payment, account: Account) -> None:
        """A successful payment: credit it once (see the module), then thank the payer."""
        incoming = Incoming(payment.chat_id, "", payment.sender, "")
        pack = Pack.from_payload(payment.payload)
        tokens = pack.tokens if pack is not None and pack.stars == payment.stars else 0
        if tokens == 0:
            # Only an invoice this bot sent can be paid, and the pre-checkout refused any
            # other: a payment without a pack is a bug to see, never tokens to guess.
            log.error("payment %s carries no pack: %r", payment.charge_id, payment.payload)
        purchase = Purchase(
            payment.charge_id, account.user_id, payment.stars, tokens, self.parts.clock.now()
        )
        try:
            new = await self.parts.accounts.credit(purchase)
        except errors.StorageError as exc:
            log.error("payment %s could not be credited: %s", payment.charge_id, exc)
            self.parts.notices.post(
                "admin_paid_unsaved",
                who=who(payment.sender),
                stars=payment.stars,
                tokens=tokens,
                charge=payment.charge_id,
                detail=str(exc),
            )
            await best_effort(
                self.parts.replies.say(
                    incoming, "paid_unsaved", stars=payment.stars, charge=payment.charge_id
                )
            )
            return
        stored = await self.parts.accounts.purchase(payment.charge_id) or purchase
        balance = (await self.parts.accounts.get(account.user_id) or account).balance
        if new:
            log.info("payment %s: %d tokens credited", payment.charge_id, tokens)
            self.parts.notices.post(
                "admin_paid",
                who=who(payment.sender),
                tokens=tokens,
                stars=payment.stars,
                charge=payment.charge_id,
            )
        else:
            log.info("payment %s reported again: credited already", payment.charge_id)
        await self.parts.replies.say(
            incoming,
            "paid" if new else "paid_again",
            tokens=stored.tokens,
            stars=stored.stars,
            balance=balance,
            charge=payment.charge_id,
        )

    async def refund(self, incoming: Incoming, argument: str) -> None:
        """``/refund <charge id>`` (the admin's): the Stars given back, then the tokens taken
        back once."""
        words = argument.split()
        if len(words) != 1:
            await self.parts.replies.say(incoming, "refund_usage")
            return
        charge = words[0]
        if self.payments is None:
            await self.parts.replies.say(incoming, "refund_unavailable")
            return
        accounts = self.parts.accounts
        found = await accounts.purchase(charge)
        if found is None:
            await self.parts.replies.say(incoming, "refund_unknown", charge=charge)
            return
        if found.refunded_at is not None:
            when = found.refunded_at.strftime("%Y-%m-%d %H:%M")
            await self.parts.replies.say(incoming, "refund_already", charge=charge, when=when)
            return
        try:
            # Stars first: a payment system that refuses leaves the tokens where they are. One
            # refunded already counts as done, so a /refund repeated after a failure here
            # still takes the tokens back.
            await self.payments.refund(found.user_id, charge)
        except errors.PaymentFailed as exc:
            await self.parts.replies.say(incoming, "refund_failed", charge=charge, reason=str(exc))
            return
        if not await accounts.take_back(charge, self.parts.clock.now()):
            again = await accounts.purchase(charge) or found
            when = (again.refunded_at or self.parts.clock.now()).strftime("%Y-%m-%d %H:%M")
            await self.parts.replies.say(incoming, "refund_already", charge=charge, when=when)
            return
        payer = await accounts.get(found.user_id) or Account(found.user_id, 0)
        balance = payer.balance
        message = self.parts.replies.text(
            incoming,
            "refund_done",
            stars=found.stars,
            who=who(Sender(found.user_id, payer.name, payer.username)),
            tokens=found.tokens,
            balance=balance,
        )
        if balance < 0:
            message += self.parts.replies.text(incoming, "refund_negative")
        await self.parts.replies.send(incoming, message)
