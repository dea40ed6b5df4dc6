"""Running the bot on Telethon: messages in, one chat at a time, many chats at once."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from telethon import TelegramClient, events
from telethon.tl import functions, types

from adapters.telegram.incoming import BotIdentity, NotText, read_event
from core.ports import ReplySink
from core.values import Incoming

log = logging.getLogger(__name__)

Handler = Callable[[Incoming], Awaitable[None]]


class TelegramBot:
    """Feeds a started client's new messages to ``handle``.

    Chats are served concurrently, but the messages of one chat strictly in the order they
    came: a second question must not overtake the first, nor its answer be written twice at
    once into the same thread.
    """

    def __init__(
        self,
        client: TelegramClient,
        handle: Handler,
        *,
        sink: ReplySink,
        not_text: Callable[[NotText], str | None] | None = None,
        commands: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        """``not_text`` gives the answer to a message without text in a private chat (None:
        stay silent); ``commands`` is the command menu, (name, description) pairs by language
        code, "" for everyone else."""
        self._client = client
        self._handle = handle
        self._sink = sink
        self._not_text = not_text
        self._commands = dict(commands or {})
        self._identity: BotIdentity | None = None
        self._accepting = False
        self._waiting: dict[int, collections.deque[Incoming | NotText]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}

    @property
    def identity(self) -> BotIdentity:
        if self._identity is None:
            raise RuntimeError("the bot is not started")
        return self._identity

    async def start(self) -> BotIdentity:
        """Learn who the bot is, publish the command menu and start taking messages."""
        me = await self._client.get_me()
        if me is None:
            raise RuntimeError("the Telegram client is not logged in")
        self._identity = BotIdentity(int(me.id), me.username)
        await self._publish_commands()
        self._client.add_event_handler(self._on_message, events.NewMessage(incoming=True))
        self._accepting = True
        log.info("serving Telegram as @%s (%s)", me.username, me.id)
        return self._identity

    async def stop(self) -> None:
        """Take no new messages; return when every message already taken has been handled."""
        self._accepting = False
        self._client.remove_event_handler(self._on_message)
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _on_message(self, event: events.NewMessage.Event) -> None:
        # Nothing here may wait: Telethon runs handlers as tasks in arrival order, and the
        # message must be queued before the next one's handler gets to run.
        if not self._accepting or self._identity is None:
            return
        item = read_event(event, self._identity)
        if item is None:
            return
        self._waiting.setdefault(item.chat_id, collections.deque()).append(item)
        if item.chat_id not in self._workers:
            task = asyncio.create_task(self._serve(item.chat_id))
            self._workers[item.chat_id] = task

    async def _serve(self, chat_id: int) -> None:
        waiting = self._waiting[chat_id]
        try:
            while waiting:
                await self._one(waiting.popleft())
        finally:
            del self._waiting[chat_id]
            del self._workers[chat_id]

    async def _one(self, item: Incoming | NotText) -> None:
        try:
            if isinstance(item, Incoming):
                await self._handle(item)
            elif item.addressed and self._not_text is not None:
                answer = self._not_text(item)
                if answer:
                    reply_to = None if item.private else item.message_id
                    await self._sink.send(item.chat_id, answer, reply_to)
        except Exception:  # one bad message must not stop the chat's queue
            log.exception("handling message %s of chat %s failed", item.message_id, item.chat_id)

    async def _publish_commands(self) -> None:
        for language, commands in self._commands.items():
            request = functions.bots.SetBotCommandsRequest(
                scope=types.BotCommandScopeDefault(),
                lang_code=language,
                commands=[types.BotCommand(name, about) for name, about in commands],
            )
            try:
                await self._client(request)
            except Exception as exc:  # the menu is a convenience; the bot works without it
                log.warning("could not set the command menu for %r: %r", language, exc)
