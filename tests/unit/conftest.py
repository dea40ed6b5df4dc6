from __future__ import annotations

import attrs
import pytest

from adapters.clock import FakeClock
from adapters.storage.memory import MemoryAccountStore, MemoryThreadStore
from core.ports import MessageLookup
from core.service import BotConfig, BotService
from core.tokens import CharTokenCounter
from core.values import Incoming, Sender
from tests.fakes import RecordingSink, ScriptedModel

ADMIN = 1
ALICE = Sender(100, "Alice", "alice", "en")
BOB = Sender(200, "Bob", None, "ru")
GROUP = -500


@attrs.define
class Harness:
    """A bot on in-memory parts, with helpers to talk to it."""

    service: BotService
    model: ScriptedModel
    accounts: MemoryAccountStore
    threads: MemoryThreadStore
    sink: RecordingSink
    next_id: int = 1

    def message(
        self,
        text: str,
        sender: Sender = ALICE,
        reply_to: int | None = None,
        chat_id: int | None = None,
        *,
        addressed: bool | None = None,
    ) -> Incoming:
        private = chat_id is None or chat_id > 0
        incoming = Incoming(
            chat_id=sender.id if chat_id is None else chat_id,
            message_id=self.next_id,
            sender=sender,
            text=text,
            reply_to=reply_to,
            private=private,
            addressed=private if addressed is None else addressed,
        )
        self.next_id += 1
        return incoming

    async def say(self, text: str, sender: Sender = ALICE, **kwargs: object) -> Incoming:
        incoming = self.message(text, sender, **kwargs)  # type: ignore[arg-type]
        await self.service.handle(incoming)
        return incoming

    def balance(self, user_id: int) -> int:
        account = self.accounts.get(user_id)
        assert account is not None
        return account.balance

    def last(self) -> str:
        return self.sink.sent[-1].text


def make_harness(lookup: MessageLookup | None = None, **config: object) -> Harness:
    model = ScriptedModel()
    accounts = MemoryAccountStore()
    threads = MemoryThreadStore()
    sink = RecordingSink()
    settings = {"admin_id": ADMIN, "bot_username": "testbot", "notify_new_users": False}
    settings.update(config)
    service = BotService(
        config=BotConfig(**settings),  # type: ignore[arg-type]
        model=model,
        accounts=accounts,
        threads=threads,
        sink=sink,
        counter=CharTokenCounter(),
        clock=FakeClock(),
        lookup=lookup,
    )
    return Harness(service, model, accounts, threads, sink)


@pytest.fixture
def bot() -> Harness:
    return make_harness()
