"""The Telegram bot on the fake Telegram in a process of its own, given one Stars payment, for
tests/e2e/test_telegram_payments.py to kill between the credit and the thank-you.

    python -m tests.e2e.payment_driver FOLDER CHARGE_ID STAR_PACKS [hang]

Prints ``THANKING <text>`` when the bot sends its answer to the payment; with ``hang`` that
request never returns (the test kills the process there), without it the bot is stopped by
the admin and the process ends.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from adapters.messengers.telegram.payments import invoice_media
from core.values import Pack
from entrypoints.telegram import serve
from tests.adapters.messengers.telegram.fakes import FakeTelegram, incoming, until
from tests.e2e.test_telegram import ADMIN, settings_for


async def main(folder: Path, charge: str, packs: str, hang: bool) -> int:
    tg = FakeTelegram()
    answered = asyncio.Event()
    never = asyncio.Event()
    telegram = tg._telegram

    async def watched(request: Any) -> Any:
        words = getattr(request, "message", None)
        if isinstance(words, str) and ("Спасибо" in words or "уже зачтён" in words):
            print("THANKING", words.replace("\n", " "), flush=True)
            answered.set()
            if hang:
                await never.wait()  # killed here, the credit saved, the thank-you not sent
        return await telegram(request)

    tg._telegram = watched  # type: ignore[method-assign]
    bot = asyncio.create_task(
        serve(settings_for(folder, STAR_PACKS=packs), tg, handle_signals=False)
    )
    await until(lambda: tg.shown(ADMIN.id), "the start notice")
    pack = Pack.from_payload(packs.split(",")[0])
    assert pack is not None
    await tg.receive_update(tg.payment(invoice_media(pack, "tokens", ""), charge))
    await answered.wait()
    await tg.receive(incoming("/stop", sender=ADMIN, message_id=1))
    return await bot


if __name__ == "__main__":
    folder, charge, packs = sys.argv[1:4]
    sys.exit(asyncio.run(main(Path(folder), charge, packs, sys.argv[4:] == ["hang"])))
