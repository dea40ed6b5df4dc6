from __future__ import annotations

import attrs
import pytest

from adapters.clock import FakeClock
from adapters.storage.memory.stores import MemoryAccountStore, MemoryThreadStore
from core.config import BotConfig
from core.ports import AccountStore, MessageLookup, ReplySink, ThreadStore
from core.service import BotService
from core.tokens import CharTokenCounter
from core.values import Account, Incoming, Sender, Totals
from entrypoints.bootstrap import assemble
from tests.fakes import RecordingOperator, RecordingSink, ScriptedModel

ADMIN = "1"
ALICE = Sender("100", "Alice", "alice", "en")
BOB = Sender("200", "Bob", None, "ru")
GROUP = "-500"


@attrs.define
class Harness:
    """A bot on in-memory parts, with helpers to talk to it."""

    service: BotService
    model: ScriptedModel
    accounts: AccountStore
    threads: ThreadStore
    sink: RecordingSink
    operator: RecordingOperator
    next_id: int = 1

    def message(
        self,
        text: str,
        sender: Sender = ALICE,
        reply_to: str | None = None,
        chat_id: str | None = None,
    ) -> Incoming:
        incoming = Incoming(
            chat_id=sender.id if chat_id is None else chat_id,
            message_id=str(self.next_id),
            sender=sender,
            text=text,
            reply_to=reply_to,
            private=chat_id is None or not chat_id.startswith("-"),
        )
        self.next_id += 1
        return incoming

    async def say(self, text: str, sender: Sender = ALICE, **kwargs: object) -> Incoming:
        incoming = self.message(text, sender, **kwargs)  # type: ignore[arg-type]
        await self.service.handle(incoming)
        return incoming

    async def account(self, user_id: str) -> Account:
        account = await self.accounts.get(user_id)
        assert account is not None
        return account

    async def balance(self, user_id: str) -> int:
        return (await self.account(user_id)).balance

    async def totals(self) -> Totals:
        return await self.accounts.totals()

    def last(self) -> str:
        return self.sink.sent[-1].text

    def use_sink(self, sink: ReplySink) -> None:
        """Swap the messenger the service answers through."""
        self.service.replies.sink = sink

    def use_accounts(self, accounts: AccountStore) -> None:
        """Swap the account store everywhere the service holds it (a failing disk, say)."""
        self.service.accounts = accounts
        self._use_parts(accounts=accounts)

    def use_threads(self, threads: ThreadStore) -> None:
        """Swap the thread store everywhere the service holds it."""
        self.threads = threads
        self.service.threads = threads
        self._use_parts(threads=threads)

    def _use_parts(self, **changes: object) -> None:
        """The use cases share one frozen bundle of parts: each gets the changed one."""
        service = self.service
        parts = attrs.evolve(service.answerer.parts, **changes)  # type: ignore[arg-type]
        service.answerer.parts = service.commands.parts = service.gate.parts = parts
        service.allowances.accounts = parts.accounts
        for case in (service.commands.painter, service.reader, service.commands.narrator):
            if case is not None:
                case.parts = case.charges.parts = parts


def make_harness(
    lookup: MessageLookup | None = None, parts: dict[str, object] | None = None, **config: object
) -> Harness:
    """A bot on in-memory parts; ``parts`` are more keyword arguments of ``assemble`` (a media
    source, a transcriber, ``models``...); the harness's ``model`` is the default one."""
    models = (parts or {}).get("models")
    model = next(iter(models.values())) if isinstance(models, dict) else ScriptedModel()
    accounts = MemoryAccountStore()
    threads = MemoryThreadStore()
    sink = RecordingSink()
    operator = RecordingOperator()
    settings: dict[str, object] = {"admin_id": ADMIN, "notify_new_users": False}
    settings.update(config)
    bot = assemble(
        BotConfig(**settings),  # type: ignore[arg-type]
        sink=sink,
        accounts=accounts,
        threads=threads,
        model=model,
        counter=CharTokenCounter(),
        clock=FakeClock(),
        operator=operator,
        lookup=lookup,
        **(parts or {}),  # type: ignore[arg-type]
    )
    return Harness(bot.service, model, accounts, threads, sink, operator)


@pytest.fixture
def bot() -> Harness:
    return make_harness()
