"""A third messenger on the core, to prove it reusable: lines of plain text over TCP.

A client sends one command a line (UTF-8; in a text, "\\n" is a line break and "\\\\" a
backslash):

    HELLO <name>               who you are: user "u:<name>"; you speak in your dm "dm:<name>"
    JOIN <room> | JOIN dm      speak in "room:<room>" (and hear it from now on), or in your dm
    SAY <text>                 a message in the chat you speak in
    REPLY <message id> <text>  the same, replying to a message

It receives ``MSG <id> <chat> <from> <reply to or -> <text>`` for each message of its chats (its
own too, so it learns their ids), ``DRAFT`` in the same shape for an answer still being written
(the ``MSG`` with that id completes it), ``TYPING <chat>``, and ``ERR <why>`` for a bad line.

Its own rules: message ids are "m-<uuid hex>"; in a room a message is for the bot when it starts
with "bot," or "/" or replies to a message of the bot, in a dm every message is; there is no
Markdown, so the bot's is sent as written. The admin is reached in their dm.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import uuid
from collections.abc import Callable, Sequence

import attrs

from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.errors import DeliveryFailed
from core.ports import ChatModel
from core.tokens import CharTokenCounter
from core.values import Incoming, Offer, Picture, Sender
from entrypoints.bootstrap import Bot, assemble

BOT = "bot"
_NAME = re.compile(r"[a-z0-9_]{1,32}")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _line(
    verb: str, message_id: str, chat: str, sender: str, reply_to: str | None, text: str
) -> bytes:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")  # one message, one line
    return f"{verb} {message_id} {chat} {sender} {reply_to or '-'} {text}\n".encode()


def _new_id() -> str:
    return f"m-{uuid.uuid4().hex}"


@attrs.define(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None = attrs.field(factory=asyncio.current_task)
    name: str = ""  # empty until HELLO
    here: str = ""  # the chat it speaks in
    rooms: set[str] = attrs.field(factory=set)


@attrs.define
class LineMessenger:
    """The server (``serve`` is the connection handler), the ``ReplySink``, and the
    ``Operator``. ``submit`` is the bot's ``BotService.submit``, set once the bot is assembled."""

    admin_id: str
    submit: Callable[[Incoming], object] = lambda incoming: None
    clients: set[_Client] = attrs.field(factory=set)
    bot_messages: set[str] = attrs.field(factory=set)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self.clients.add(client)
        try:
            while line := await reader.readline():
                error = self._take(client, line.decode(errors="replace").rstrip("\r\n"))
                if error:
                    writer.write(f"ERR {error}\n".encode())
                await writer.drain()
        except ConnectionError:
            pass  # the client went away: so does its membership
        except ValueError:  # a line past the reader's limit: no telling where the next starts
            writer.write(b"ERR a line is at most 64 KiB; goodbye\n")
        finally:
            self.clients.discard(client)
            writer.close()

    def _take(self, client: _Client, line: str) -> str | None:
        """Act on one line; what is wrong with it, if anything."""
        verb, _, rest = line.partition(" ")
        if verb == "HELLO":
            if not _NAME.fullmatch(rest):
                return "HELLO <name>: 1 to 32 of a-z, 0-9 and _"
            client.name, client.here = rest, "dm:" + rest
            return None
        if not client.name:
            return "say HELLO <name> first"
        if verb == "JOIN":
            if rest != "dm" and not _NAME.fullmatch(rest):
                return "JOIN <room>: 1 to 32 of a-z, 0-9 and _; or JOIN dm"
            client.here = "dm:" + client.name if rest == "dm" else "room:" + rest
            if rest != "dm":
                client.rooms.add(client.here)
            return None
        reply_to = None
        if verb == "REPLY":
            reply_to, _, rest = rest.partition(" ")
            if not reply_to or not rest:
                return "REPLY <message id> <text>"
        elif verb != "SAY":
            return "unknown command: HELLO, JOIN, SAY or REPLY"
        self._said(client, _unescape(rest), reply_to)
        return None

    def _said(self, client: _Client, text: str, reply_to: str | None) -> None:
        chat, message_id = client.here, _new_id()
        for member in self._members(chat):  # everyone in the chat sees it, the author too
            member.writer.write(_line("MSG", message_id, chat, "u:" + client.name, reply_to, text))
        private = chat.startswith("dm:")
        called = text[:4].lower() == "bot,"
        if private or called or text.startswith("/") or reply_to in self.bot_messages:
            sender = Sender("u:" + client.name, client.name)
            text = text[4:].strip() if called else text
            self.submit(Incoming(chat, message_id, sender, text, reply_to, private))

    def _members(self, chat: str) -> list[_Client]:
        if chat.startswith("dm:"):
            return [c for c in self.clients if c.name == chat[3:]]
        return [c for c in self.clients if chat in c.rooms]

    async def _post(self, data: bytes, chat: str) -> None:
        members = self._members(chat)
        if not members:
            raise DeliveryFailed(f"nobody is connected to {chat}")
        for member in members:
            member.writer.write(data)
        for member in members:  # one member gone is no failure while others are there
            with contextlib.suppress(ConnectionError):
                await member.writer.drain()

    async def send(self, chat_id: str, text: str, reply_to: str | None = None) -> Sequence[str]:
        message_id = _new_id()
        self.bot_messages.add(message_id)
        await self._post(_line("MSG", message_id, chat_id, BOT, reply_to, text), chat_id)
        return (message_id,)

    async def send_picture(
        self, chat_id: str, picture: Picture, caption: str, reply_to: str | None = None
    ) -> Sequence[str]:
        """A picture as a ``PIC`` line: its type and bytes in base64, then the caption."""
        message_id = _new_id()
        self.bot_messages.add(message_id)
        encoded = base64.b64encode(picture.data).decode()
        text = f"{picture.mime};base64,{encoded} {caption}"
        await self._post(_line("PIC", message_id, chat_id, BOT, reply_to, text), chat_id)
        return (message_id,)

    def stream(self, chat_id: str, reply_to: str | None) -> _LineStream:
        return _LineStream(self, chat_id, reply_to)

    async def typing(self, chat_id: str) -> None:
        await self._post(f"TYPING {chat_id}\n".encode(), chat_id)

    async def notify(self, text: str) -> None:
        await self.send("dm:" + self.admin_id.removeprefix("u:"), text)

    async def close(self) -> None:
        """Hang up on everyone, and wait until every connection is done."""
        for client in self.clients:
            client.writer.close()
        await asyncio.gather(*(c.task for c in self.clients if c.task), return_exceptions=True)


@attrs.define
class _LineStream:
    """One answer: each update is a ``DRAFT`` of the whole text so far, the end a ``MSG``."""

    messenger: LineMessenger
    chat: str
    reply_to: str | None
    message_id: str = attrs.field(factory=_new_id)
    shown: bool = False

    async def update(self, text: str) -> None:
        data = _line("DRAFT", self.message_id, self.chat, BOT, self.reply_to, text)
        await self.messenger._post(data, self.chat)
        self.shown = True

    async def finish(
        self, text: str, *, markdown: bool = True, offer: Offer | None = None
    ) -> Sequence[str]:
        # No Markdown here: the text is shown as written either way; no buttons either.
        if offer is not None:
            text += f"\n\n{offer.label}: {offer.command.split()[0]}"
        self.messenger.bot_messages.add(self.message_id)
        data = _line("MSG", self.message_id, self.chat, BOT, self.reply_to, text)
        await self.messenger._post(data, self.chat)
        return (self.message_id,)


# -- put together: a bot on in-memory stores, served on 127.0.0.1 ----------------------------


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


async def start_line_bot(config: BotConfig, model: ChatModel, port: int = 0) -> LineBot:
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
    server = await asyncio.start_server(messenger.serve, "127.0.0.1", port)
    return LineBot(bot, messenger, server, accounts)


async def serve(port: int) -> None:
    """The example on the offline model: try it with ``nc 127.0.0.1 PORT``, ``HELLO you``,
    ``SAY hello``; ``HELLO admin`` then ``SAY /stop`` stops it."""
    from adapters.models.offline.chat import OfflineModel

    line = await start_line_bot(BotConfig(admin_id="u:admin"), OfflineModel(CharTokenCounter()))
    print(f"line messenger on 127.0.0.1:{line.port}", flush=True)
    await line.run()


if __name__ == "__main__":  # python -m examples.line_messenger [PORT]
    import sys

    asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 7777))
