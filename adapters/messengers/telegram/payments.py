"""Telegram Stars: invoices, the pre-checkout, the payment service message and refunds.

Stars (currency ``XTR``) need no payment provider: the invoice's ``provider`` is left out,
``provider_data`` is still required (an empty JSON object), and it has exactly one price, in
whole Stars. Telethon's ``events.NewMessage`` drops every service message, so the payment
(``messageActionPaymentSentMe``, its charge id in ``action.charge.id``) and the
pre-checkout query arrive here as raw updates. The core credits each charge id once
(``core.purchases``); this module only turns updates into its values and answers Telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telethon import TelegramClient, errors, events, helpers, utils
from telethon.tl import functions, types

from adapters.messengers.telegram.incoming import sender_of
from core.errors import DeliveryFailed, PaymentFailed
from core.texts import choose_language, text
from core.values import Pack, Payment, Sender

log = logging.getLogger(__name__)

STARS = "XTR"
# Telegram cancels a payment whose pre-checkout is not answered within 10 s: the core's answer
# is awaited this long, then the payer is asked to try again rather than left waiting.
PRECHECKOUT_WAIT = 7.0
_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"

Precheckout = Callable[[Sender, str, str, int], Awaitable[str]]
Pay = Callable[[Payment], object]


def invoice_media(pack: Pack, title: str, description: str) -> types.InputMediaInvoice:
    """A Stars invoice for ``pack``: one price in whole Stars, the pack in the payload."""
    return types.InputMediaInvoice(
        title=title,
        description=description,
        invoice=types.Invoice(currency=STARS, prices=[types.LabeledPrice(title, pack.stars)]),
        payload=pack.payload.encode("ascii"),
        provider_data=types.DataJSON("{}"),
    )


class TelegramPayments:
    """``core.ports.Payments`` on Telegram Stars."""

    def __init__(self, client: TelegramClient) -> None:
        self._client = client

    async def invoice(self, chat_id: str, pack: Pack, title: str, description: str) -> None:
        request = functions.messages.SendMediaRequest(
            peer=int(chat_id),
            media=invoice_media(pack, title, description),
            message="",
            random_id=helpers.generate_random_long(),
        )
        try:
            await self._client(request)
        except (errors.RPCError, ValueError) as exc:
            raise DeliveryFailed(f"the invoice could not be sent: {exc}") from exc

    async def refund(self, user_id: str, charge_id: str) -> None:
        try:
            payer = await self._client.get_input_entity(int(user_id))
            await self._client(functions.payments.RefundStarsChargeRequest(payer, charge_id))
        except errors.RPCError as exc:
            if exc.message == _ALREADY_REFUNDED:
                log.info("charge %s was refunded already", charge_id)
                return
            raise PaymentFailed(exc.message) from exc
        except ValueError as exc:  # the payer is unknown to this session
            raise PaymentFailed(f"Telegram does not know user {user_id} here") from exc


class PaymentUpdates:
    """The raw updates of payments, handed to the core: ``precheckout`` answers a pre-checkout
    query ("" for yes, else the reason), ``pay`` takes a successful payment."""

    def __init__(
        self,
        client: TelegramClient,
        precheckout: Precheckout,
        pay: Pay,
        language: str,
        *,
        wait: float = PRECHECKOUT_WAIT,
    ) -> None:
        """``wait``: seconds the core's answer to a pre-checkout is awaited."""
        self._wait = wait
        self._client = client
        self._precheckout = precheckout
        self._pay = pay
        self._language = language

    def listen(self) -> None:
        self._client.add_event_handler(self.on_precheckout, _raw(types.UpdateBotPrecheckoutQuery))
        self._client.add_event_handler(self.on_message, _raw(types.UpdateNewMessage))

    def stop(self) -> None:
        self._client.remove_event_handler(self.on_precheckout)
        self._client.remove_event_handler(self.on_message)

    async def on_precheckout(self, update: types.UpdateBotPrecheckoutQuery) -> None:
        sender = _sender(update, update.user_id)
        language = choose_language(sender.language, self._language)
        reason = text(language, "pay_unknown_pack")
        if update.currency == STARS:
            try:
                reason = await asyncio.wait_for(
                    self._precheckout(
                        sender,
                        str(update.user_id),
                        bytes(update.payload).decode("utf-8", "replace"),
                        int(update.total_amount),
                    ),
                    self._wait,
                )
            except Exception as exc:  # a slow or failing store: the payer may try again
                log.error("pre-checkout %s not decided in time: %r", update.query_id, exc)
                reason = text(language, "pay_busy")
        answer = functions.messages.SetBotPrecheckoutResultsRequest(
            update.query_id, success=True if not reason else None, error=reason or None
        )
        try:
            await self._client(answer)
        except errors.RPCError as exc:  # too late, or Telegram away: the payment is cancelled
            log.error("could not answer pre-checkout %s: %r", update.query_id, exc)
        log.info("pre-checkout %s: %s", update.query_id, reason or "ok")

    async def on_message(self, update: types.UpdateNewMessage) -> None:
        message = update.message
        if not isinstance(message, types.MessageService):
            return
        action = message.action
        if not isinstance(action, types.MessageActionPaymentSentMe):
            return
        if action.currency != STARS:
            log.error("a payment in %s was ignored: the bot sells for Stars", action.currency)
            return
        payer = utils.get_peer_id(message.from_id or message.peer_id)
        payment = Payment(
            charge_id=action.charge.id,
            chat_id=str(utils.get_peer_id(message.peer_id)),
            sender=_sender(update, payer),
            payload=bytes(action.payload).decode("utf-8", "replace"),
            stars=int(action.total_amount),
        )
        log.info("payment %s of %d Stars from %s", payment.charge_id, payment.stars, payer)
        self._pay(payment)


def _raw(kind: type) -> events.Raw:
    return events.Raw(kind)


def _sender(update: Any, user_id: int) -> Sender:
    """The user as the update's own entities describe them (Telethon attaches them)."""
    entities = getattr(update, "_entities", None) or {}
    return sender_of(user_id, entities.get(user_id))
