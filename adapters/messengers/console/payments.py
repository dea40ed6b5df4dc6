"""Payments in the console, offline: an invoice is printed, and ``:pay`` plays the payment
Telegram would report (``adapters.messengers.console.session``), so the exactly-once rule can
be tried without Telegram: ``:pay --charge ID <stars>`` reports a charge again."""

from __future__ import annotations

import attrs

from core.ports import ReplySink
from core.values import Pack


@attrs.define
class ConsolePayments:
    """``core.ports.Payments`` that prints invoices and refunds nothing real."""

    sink: ReplySink
    refunded: list[str] = attrs.field(factory=list)

    async def invoice(self, chat_id: str, pack: Pack, title: str, description: str) -> None:
        await self.sink.send(
            chat_id, f"[invoice] {title}: {pack.stars} ⭐. {description} (:pay {pack.stars})"
        )

    async def refund(self, user_id: str, charge_id: str) -> None:
        self.refunded.append(charge_id)  # nothing to give back offline: done
