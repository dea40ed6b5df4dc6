"""Running the bot on Telethon: each new message read, and what is meant for the bot handed to
the core, which keeps each conversation's order."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from telethon import TelegramClient, events
from telethon.tl import functions, types

from adapters.messengers.telegram.albums import ALBUM_WAIT, Album, Albums, grouped
from adapters.messengers.telegram.incoming import (
    BotIdentity,
    Reading,
    Refusal,
    read_event,
    read_press,
)
from adapters.messengers.telegram.sink import TelegramSink
from core.ordering import Sequencer
from core.texts import choose_language, text
from core.values import Incoming

log = logging.getLogger(__name__)

Submit = Callable[[Incoming], object]


class TelegramBot:
    """Feeds a started client's new messages to ``submit`` (the core's ``BotService.submit``).

    The core keeps each conversation in order; this class only keeps a chat's messages in the
    order they came while it reads them, with the core's ``Sequencer`` keyed by chat: a group
    reply that only Telegram can tell is meant for the bot waits for that answer, an album for
    its last part, and the messages after them wait too. Stop presses on live drafts go to the
    sink.
    """

    def __init__(
        self,
        client: TelegramClient,
        submit: Submit,
        *,
        sink: TelegramSink,
        language: str = "en",
        commands: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        known: frozenset[str] | None = None,
        album_wait: float = ALBUM_WAIT,
    ) -> None:
        """``language``: for people whose language Telegram does not report or the bot does
        not speak; ``commands``: the command menu by language code ("" for everyone else);
        ``known``: every command name the bot takes (a bare unknown command in a group is
        another bot's); None takes any; ``album_wait``: how long after an album's last part
        it is handed over as one message."""
        self._client = client
        self._submit = submit
        self._sink = sink
        self._language = language
        self._commands = dict(commands or {})
        self._known = known
        self._identity: BotIdentity | None = None
        self._accepting = False
        self._listening = False
        # The core's per-key order, by chat: a message waits for the earlier ones' checks.
        self._reading = Sequencer()
        self._albums = Albums(album_wait)
        self._own_answers: set[asyncio.Task[None]] = set()

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
        self._identity = BotIdentity(int(me.id), me.username, self._known)
        await self._publish_commands()
        self._client.add_event_handler(self._on_message, events.NewMessage(incoming=True))
        self._client.add_event_handler(self._on_typing, events.Raw(types.UpdateUserTyping))
        self._client.add_event_handler(self._on_press, events.CallbackQuery())
        self._accepting = self._listening = True
        log.info("serving Telegram as @%s (%s)", me.username, me.id)
        return self._identity

    async def stop(self) -> None:
        """Take no new messages (they get "shutting down, try again in a minute" until
        ``close``); return when every message already taken has been handled."""
        self._accepting = False
        await self._reading.idle()

    async def close(self) -> None:
        """Stop listening; wait for the adapter's own answers already being sent (refusals,
        "shutting down")."""
        await self.stop()
        if self._listening:
            self._client.remove_event_handler(self._on_message)
            self._client.remove_event_handler(self._on_typing)
            self._client.remove_event_handler(self._on_press)
            self._listening = False
        if self._own_answers:
            await asyncio.gather(*self._own_answers, return_exceptions=True)

    async def _on_typing(self, update: types.UpdateUserTyping) -> None:
        action = update.action
        stop = isinstance(action, types.SendMessageStopDraftAction)
        if stop and self._sink.stop_pressed(int(update.user_id), int(action.random_id)):
            log.info("user %s pressed stop on an answer", update.user_id)

    async def _on_press(self, event: events.CallbackQuery.Event) -> None:
        """A press on a button under the bot's message (/retry under a failed answer): its
        command goes to the core in the chat's order, then Telegram is told the press was
        taken (the button stops spinning)."""
        pressed = read_press(event) if self._identity is not None else None
        if pressed is not None:
            if self._accepting and not self._reading.busy(int(pressed.chat_id)):
                self._submit(pressed)
            elif self._accepting:
                reading = Reading(pressed, None)
                self._reading.submit(int(pressed.chat_id), functools.partial(self._one, reading))
            else:
                self._answer_aside(self._farewell(Reading(pressed, None)))
        try:
            await event.answer()
        except Exception as exc:  # a late answer only leaves the spinner a little longer
            log.info("could not answer a button press: %r", exc)

    async def _on_message(self, event: events.NewMessage.Event) -> None:
        # Nothing here may wait: Telethon runs handlers as tasks in arrival order, and the
        # message must be queued before the next one's handler gets to run.
        if self._identity is None:
            return
        reading = read_event(event, self._identity, self._sink.sent)
        album = grouped(event.message)
        if album is not None and self._accepting:
            key = (int(event.chat_id), album)
            if self._albums.add(key, event.message, reading):
                self._sink.media.remember(key[0], event.message)
                return  # a later part of an album already on its way
        if reading is None:
            return
        chat_id = reading.chat_id
        self._sink.reachable(chat_id)
        if isinstance(reading.item, Incoming) and reading.item.attachments:
            self._sink.media.remember(chat_id, event.message)  # fetched in a moment
        if album is not None and self._accepting:
            started = self._albums.start((chat_id, album), reading)
            if started is not None:
                # Queued in the chat's order now; handed over once its last part came.
                self._reading.submit(chat_id, functools.partial(self._one, started))
                return
        if not self._accepting:
            self._answer_aside(self._farewell(reading))
            return
        if reading.check_reply is None and not self._reading.busy(chat_id):
            self._pass_on(reading)  # nothing to wait for: straight to the core, in order
            return
        self._reading.submit(chat_id, functools.partial(self._one, reading))

    async def _one(self, waiting: Reading | Album) -> None:
        if isinstance(waiting, Album):
            await waiting.complete.wait()
            waiting = waiting.reading()
        reading = waiting
        item = reading.item
        try:
            if await self._for_me(reading):
                self._pass_on(reading)
        except Exception:  # one bad message must not stop the chat's queue
            log.exception("reading message %s of chat %s failed", item.message_id, item.chat_id)

    def _pass_on(self, reading: Reading) -> None:
        item = reading.item
        if isinstance(item, Incoming):
            self._submit(item)
        else:
            self._answer_aside(self._refuse(item))

    def _answer_aside(self, answer: Coroutine[Any, Any, None]) -> None:
        """Send one of the adapter's own answers without holding up the chat's next messages;
        ``close`` waits for it."""
        task = asyncio.create_task(answer)
        self._own_answers.add(task)
        task.add_done_callback(self._own_answers.discard)

    async def _for_me(self, reading: Reading) -> bool:
        """Whether the message is meant for the bot: for a reply the bot cannot place from
        memory, whether the replied message is the bot's (asked of Telegram)."""
        if reading.check_reply is None:
            return True
        replied = await self._sink.fetch(reading.chat_id, reading.check_reply)
        return replied is not None and await self._sink.is_mine(replied)

    async def _refuse(self, refusal: Refusal) -> None:
        log.info(
            "chat %s: answering message %s with %r",
            refusal.chat_id,
            refusal.message_id,
            refusal.key,
        )
        try:
            await self._answer(
                refusal.chat_id, refusal.message_id, refusal.private, refusal.language, refusal.key
            )
        except Exception as exc:  # a chat that blocked the bot, say: nothing more to do
            log.info("could not answer message %s: %r", refusal.message_id, exc)

    async def _farewell(self, reading: Reading) -> None:
        """A message that came after ``stop``: the core (stopping too) answers a message meant
        for it with its "shutting down, try again in a minute"; the adapter says the same to
        what it would have refused."""
        item = reading.item
        try:
            if not await self._for_me(reading):
                return
            if isinstance(item, Incoming):
                done = self._submit(item)
                if isinstance(done, Awaitable):
                    await done
            else:
                await self._answer(
                    item.chat_id, item.message_id, item.private, item.language, "shutting_down"
                )
        except Exception as exc:  # the bot is stopping: the log is all there is
            log.info("could not say goodbye to chat %s: %r", item.chat_id, exc)

    async def _answer(
        self, chat_id: int, message_id: int, private: bool, language: str | None, key: str
    ) -> None:
        words = text(choose_language(language, self._language), key)
        await self._sink.send(chat_id, words, None if private else message_id)

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
