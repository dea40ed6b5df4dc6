"""Where the bot's admin is reached on Telegram: their private chat with the bot.

``core.ports.Operator``. The core's notice queue calls ``notify`` in the background;
it may raise ``DeliveryFailed`` (the admin never opened a chat with the bot, or blocked it),
which the core logs.
"""

from __future__ import annotations

from adapters.messengers.telegram.sink import TelegramSink


class TelegramOperator:
    def __init__(self, sink: TelegramSink, admin_id: int | str) -> None:
        self._sink = sink
        self._admin_id = int(admin_id)

    async def notify(self, text: str) -> None:
        await self._sink.send(self._admin_id, text)
