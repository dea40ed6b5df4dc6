"""The line messenger's entrypoint: a bot on in-memory stores, served on 127.0.0.1."""

from __future__ import annotations

import asyncio

import attrs

from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.ports import ChatModel
from core.tokens import CharTokenCounter
from entrypoints.bootstrap import Bot, assemble
from tests.messenger.line_protocol import LineMessenger


@attrs.define
class LineBot:
    bot: Bot
    messenger: LineMessenger
    server: asyncio.Server
    accounts: MemoryAccountStore

    @property
    def port(self) -> int:
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def run(self) -> None:
        """Serve until the admin's /stop, finish the answers in flight (lines that come
        meanwhile are told the bot is shutting down), then close every connection."""
        await self.bot.service.wait_for_stop()
        await self.shut()

    async def shut(self) -> None:
        try:
            await self.bot.close()
        finally:
            self.server.close()
            await self.messenger.close()
            await self.server.wait_closed()


async def start_line_bot(config: BotConfig, model: ChatModel) -> LineBot:
    messenger = LineMessenger(config.admin_id)
    accounts = MemoryAccountStore()
    bot = assemble(
        config,
        sink=messenger,
        operator=messenger,
        accounts=accounts,
        threads=MemoryThreadStore(),
        model=model,
        counter=CharTokenCounter(),
    )
    messenger.submit = bot.service.submit
    server = await asyncio.start_server(messenger.serve, "127.0.0.1", 0)
    return LineBot(bot, messenger, server, accounts)
