"""Text with NUL in PostgreSQL: stored and read back as it was given, as data.json and SQLite
keep it. Before, a message with NUL was charged but its reply chain was not saved, and a name
with NUL could never register (each try told the admin)."""

from __future__ import annotations

import attrs
import pytest

from adapters.clock import FakeClock
from adapters.storage.postgres import nul
from adapters.storage.postgres.accounts import PostgresAccountStore
from adapters.storage.postgres.threads import PostgresThreadStore
from core.config import BotConfig
from core.tokens import CharTokenCounter
from core.values import Account, Incoming, Node, Role, Sender
from entrypoints.bootstrap import assemble
from tests.fakes import RecordingOperator, RecordingSink, ScriptedModel

pytestmark = pytest.mark.postgres

# NUL, the escape's own mark, and text that looks like an escaped NUL.
AWKWARD = ["a\0b", "\0", "\0\0\uffff0", "\uffff", "\uffff0", "x\uffff\uffffy\0", "plain"]


@pytest.mark.parametrize("text", AWKWARD)
def test_the_escape_gives_back_what_it_was_given(text: str) -> None:
    stored = nul.escape(text)
    assert "\0" not in stored
    assert nul.unescape(stored) == text


def test_text_without_nul_or_the_mark_is_stored_as_it_is() -> None:
    assert nul.escape("hello \\0 world") == "hello \\0 world"
    assert nul.unescape("what an older version wrote") == "what an older version wrote"


async def test_nodes_with_nul_are_saved_and_read_back(database_url: str) -> None:
    store = await PostgresThreadStore.open(database_url)
    nodes = [
        Node("c\0", str(i), Role.USER, text, str(i - 1) if i else None)
        for i, text in enumerate(AWKWARD)
    ]
    await store.add(nodes)
    await store.close()
    again = await PostgresThreadStore.open(database_url)  # no cache: read from the server
    try:
        for node in nodes:
            assert await again.get("c\0", node.message_id) == node
    finally:
        await again.close()


async def test_accounts_with_nul_register_and_keep_it(database_url: str) -> None:
    store = await PostgresAccountStore.open(database_url)
    try:
        account = Account.new(Sender("7\0", "Ann\0", "ann\uffff0", None), 100)
        assert await store.register(account) == account
        changed = await store.change("7\0", lambda a: attrs.evolve(a, prompt="be\0brief"))
        assert changed is not None
        hold = await store.hold("7\0", 10, 10)
        assert hold is not None
        await store.release(hold)
        stored = await store.get("7\0")
        assert stored == attrs.evolve(account, prompt="be\0brief")
    finally:
        await store.close()


async def test_a_message_and_a_name_with_nul_are_answered_remembered_and_registered(
    database_url: str,
) -> None:
    accounts = await PostgresAccountStore.open(database_url)
    threads = await PostgresThreadStore.open(database_url)
    sink = RecordingSink()
    operator = RecordingOperator()
    model = ScriptedModel()
    bot = assemble(
        BotConfig(admin_id="1", notify_new_users=False),
        sink=sink,
        accounts=accounts,
        threads=threads,
        model=model,
        counter=CharTokenCounter(),
        clock=FakeClock(),
        operator=operator,
    )
    sender = Sender("100", "Nul\0Name", None, "en")
    try:
        await bot.service.handle(Incoming("100", "1", sender, "tell me\0 more", None, True))
        answer = sink.sent[-1]
        assert "Not charged" not in answer.text
        account = await accounts.get("100")
        assert account is not None
        assert account.name == "Nul\0Name"
        assert account.requests == 1
        # The reply chain was saved: a reply to the answer continues the conversation.
        await bot.service.handle(Incoming("100", "2", sender, "and?", answer.message_ids[-1], True))
        assert "tell me\0 more" in [t.text for t in model.requests[-1].turns]
        await bot.service.drain()
        assert operator.notices == []  # nothing for the admin to mend
    finally:
        await bot.close()
