"""The bot: every messenger hands its messages to ``submit`` (or ``handle``).

The service keeps the order of each conversation, registers people on first contact, refuses
while stopping, and hands a message to its command or to the answering use case. It knows no
messenger: what addresses the bot, and how ids look, is the messenger adapter's business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import attrs

from core import errors
from core.access import Gate
from core.allowances import Allowances
from core.answering import Answerer
from core.charges import refund
from core.commands import Commands, parse_command
from core.config import BotConfig
from core.drawing import Painter
from core.media import SURROGATE, MediaReader, mend
from core.models import Catalogue
from core.modes import SHIPPED, ModeBook
from core.notices import Notices
from core.ordering import Sequencer
from core.parts import Parts
from core.ports import (
    AccountStore,
    ChatModel,
    Clock,
    DocumentReader,
    ImageMaker,
    MediaProbe,
    MediaSource,
    MessageLookup,
    Operator,
    ReplySink,
    Speaker,
    ThreadStore,
    TokenCounter,
    Transcriber,
    VoiceNoteSink,
)
from core.prompts import PromptPolicy
from core.replies import Replies, best_effort, who
from core.retrying import Retrier
from core.speaking import Narrator
from core.values import Account, Incoming, Sender

log = logging.getLogger(__name__)


@attrs.define
class BotService:
    """One bot on its ports."""

    config: BotConfig
    models: Mapping[str, ChatModel]  # one per model offered (``config.models``), by name
    accounts: AccountStore
    threads: ThreadStore
    sink: ReplySink
    counter: TokenCounter
    clock: Clock
    operator: Operator | None = None
    lookup: MessageLookup | None = None
    media: MediaSource | None = None  # None: the messenger sends no media
    transcriber: Transcriber | None = None  # None: voice messages are refused
    image_maker: ImageMaker | None = None  # None: /image is refused
    documents: DocumentReader | None = None  # None: files are refused
    probe: MediaProbe | None = None  # None: media is taken for what it is declared
    speaker: Speaker | None = None  # None: /voice is refused
    catalogue: Catalogue = attrs.field(init=False)
    replies: Replies = attrs.field(init=False)
    notices: Notices = attrs.field(init=False)
    commands: Commands = attrs.field(init=False)
    gate: Gate = attrs.field(init=False)
    allowances: Allowances = attrs.field(init=False)
    answerer: Answerer = attrs.field(init=False)
    reader: MediaReader = attrs.field(init=False)
    _order: Sequencer = attrs.field(factory=Sequencer, init=False)
    _farewells: set[asyncio.Future[None]] = attrs.field(factory=set, init=False)
    _stop: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)

    def __attrs_post_init__(self) -> None:
        missing = [o.name for o in self.config.models if o.name not in self.models]
        if missing:
            raise ValueError(f"no chat model given for {', '.join(missing)}")
        self.catalogue = Catalogue(self.config.models)
        self.notices = Notices(self.operator, self.config.default_language, self.clock)
        notices = self.notices
        self.replies = Replies(self.sink, self.config.default_language, lambda: notices.reach_admin)
        parts = Parts(
            self.config,
            self.accounts,
            self.threads,
            self.replies,
            self.notices,
            self.clock,
            self.media,
            self.probe,
        )
        policy = PromptPolicy(
            default=self.config.default_prompt, max_chars=self.config.prompt_max_chars
        )
        painter = Painter(parts, self.image_maker)
        self.gate = Gate(parts)
        config = self.config
        self.allowances = Allowances.of(
            config.allowance,
            config.allowance_period,
            config.allowance_tz,
            self.clock,
            self.accounts,
            config.admin_id,
        )
        # Voice notes where the messenger can send them (``VoiceNoteSink``).
        voice_sink = self.sink if isinstance(self.sink, VoiceNoteSink) else None
        narrator = Narrator(parts, self.speaker, voice_sink)
        modes = ModeBook(self.config.modes) if self.config.modes else SHIPPED
        self.answerer = Answerer(
            parts,
            self.models,
            self.catalogue,
            self.counter,
            policy,
            self.lookup,
            narrator=narrator,
            modes=modes,
        )
        self.commands = Commands(
            parts,
            policy,
            self.request_stop,
            self.catalogue,
            painter,
            self.gate,
            self.allowances,
            narrator=narrator,
            modes=modes,
            retry=Retrier(parts.replies, self.answerer.last, self.answerer.answer).retry,
        )
        self.reader = MediaReader(parts, self.transcriber, self.documents)

    # -- lifetime ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Take no new messages from now on (the admin's /stop, or a signal)."""
        self._stop.set()

    async def wait_for_stop(self) -> None:
        await self._stop.wait()

    async def drain(self) -> None:
        """Wait until every message taken is handled and every notice delivered or dropped."""
        await self._order.idle()
        while self._farewells:
            await asyncio.gather(*self._farewells, return_exceptions=True)
        await self.notices.flush()

    # -- messages ------------------------------------------------------------------------------

    def submit(self, incoming: Incoming) -> asyncio.Future[None]:
        """Take a message; it is handled after the earlier ones of its conversation (the same
        person in the same chat), concurrently with other conversations. The future is done
        when it has been handled. Synchronous: the order of calls is the order of handling."""
        if self.stopping:
            done = asyncio.ensure_future(best_effort(self.replies.say(incoming, "shutting_down")))
            self._farewells.add(done)
            done.add_done_callback(self._farewells.discard)
            return done
        key = (incoming.chat_id, incoming.sender.id)
        return self._order.submit(key, lambda: self._handle(incoming))

    async def handle(self, incoming: Incoming) -> None:
        """Take a message and wait until it is handled."""
        await self.submit(incoming)

    async def _handle(self, incoming: Incoming) -> None:
        try:
            await self._dispatch(incoming)
        except errors.StorageError as exc:
            log.error("storage failed while handling a message: %s", exc)
            self.notices.post("admin_storage", detail=str(exc))
            await best_effort(self.replies.say(incoming, "err_storage"))
        except Exception:
            # One message must never stop the bot; the log has the details for a bug report.
            log.exception("handling message %s failed", incoming.message_id)
            await best_effort(self.replies.say(incoming, "err_other"))

    async def _dispatch(self, incoming: Incoming) -> None:
        incoming = _valid(incoming)
        if not await self.gate.admits(incoming):
            return  # a stranger: no account, no model, no charge
        message = incoming.text.strip()
        command = parse_command(message)
        if command is None and not message and not incoming.attachments:
            await self.replies.say(incoming, "empty_message")
            return
        account = await self._account(incoming.sender)
        if account.banned and account.user_id != self.config.admin_id:
            log.info("refused banned user %s", account.user_id)
            await self.replies.say(incoming, "banned")
            return
        if command is not None:
            await self.commands.run(incoming, command, account)
            return
        prepared = await self.reader.prepare(incoming, account, message)
        if prepared is None:
            return
        answered = False
        try:
            answered = await self.answerer.answer(
                incoming, account, prepared.text, prepared.pictures
            )
        finally:
            spent = prepared.charged
            if not answered and spent is not None and spent.charged:
                # The answer was refused or failed, and said "Nothing was charged": the
                # recording it would have answered is given back too.
                await refund(self.accounts, spent.user_id, spent.charged, admin=spent.admin)

    async def _account(self, sender: Sender) -> Account:
        """The sender's account, registered on first contact with the starting balance, and
        refilled when a new allowance period has begun (durably, before anything shows it)."""
        account = await self.accounts.get(sender.id)
        if account is None:
            account = await self.accounts.register(
                Account.new(sender, self.config.starting_balance)
            )
            if self.config.notify_new_users and sender.id != self.config.admin_id:
                self.notices.new_user(who(sender))
        return await self.allowances.refill(account)


def _valid(incoming: Incoming) -> Incoming:
    """``incoming`` with text that can be stored and sent: a lone surrogate (invalid UTF-8 read
    from a terminal, a broken client) becomes U+FFFD instead of failing every later write of the
    account or the conversation it would be stored in."""

    def clean(text: str | None) -> str | None:
        return None if text is None else mend(text)

    sender = incoming.sender
    names = [a.name for a in incoming.attachments]
    if not any(
        SURROGATE.search(text)
        for text in (incoming.text, sender.name, sender.username, *names)
        if text
    ):
        return incoming  # the usual case: nothing to mend, nothing to copy
    return attrs.evolve(
        incoming,
        text=clean(incoming.text) or "",
        sender=attrs.evolve(sender, name=clean(sender.name), username=clean(sender.username)),
        attachments=tuple(attrs.evolve(a, name=clean(a.name)) for a in incoming.attachments),
    )
