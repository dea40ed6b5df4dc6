"""Walking reply chains."""

from __future__ import annotations

import attrs
import pytest

from adapters.storage.memory.stores import MemoryThreadStore
from core.texts import text, without_footer
from core.threads import (
    FIRST_READ,
    LONGEST_READ,
    SHORT_TURN,
    Thread,
    TooLong,
    build_thread,
    links_by_get,
)
from core.tokens import CharTokenCounter
from core.values import Link, Node, Role


async def _walk(store: MemoryThreadStore, reply_to: str | None, **kw: object) -> Thread:
    args: dict[str, object] = {
        "store": store,
        "lookup": None,
        "counter": CharTokenCounter(),
        "chat_id": "1",
        "reply_to": reply_to,
        "system_prompt": "system",
        "text": "new",
        "budget": 10_000,
    }
    args.update(kw)
    thread = await build_thread(**args)  # type: ignore[arg-type]
    assert isinstance(thread, Thread)
    return thread


async def _chain(store: MemoryThreadStore, depth: int, chat_id: str = "1") -> None:
    await store.add(
        [
            Node(
                chat_id,
                str(n),
                Role.USER if n % 2 else Role.ASSISTANT,
                f"m{n}",
                str(n - 1) if n > 1 else None,
            )
            for n in range(1, depth + 1)
        ]
    )


async def test_walk_returns_the_chain_oldest_first() -> None:
    store = MemoryThreadStore()
    await _chain(store, 5)
    thread = await _walk(store, "5")
    assert [t.text for t in thread.turns] == ["system", "m1", "m2", "m3", "m4", "m5", "new"]
    assert not thread.dropped


async def test_a_cycle_in_damaged_data_ends_the_walk() -> None:
    store = MemoryThreadStore()
    await store.add([Node("1", "1", Role.USER, "a", "2"), Node("1", "2", Role.ASSISTANT, "b", "1")])
    thread = await _walk(store, "2")
    assert [t.text for t in thread.history] == ["a", "b"]


async def test_dangling_parent_ends_the_walk() -> None:
    store = MemoryThreadStore()
    await store.add([Node("1", "5", Role.ASSISTANT, "b", "4")])
    thread = await _walk(store, "5")
    assert [t.text for t in thread.history] == ["b"]


async def test_walk_never_leaves_its_chat() -> None:
    store = MemoryThreadStore()
    await _chain(store, 3, chat_id="2")
    thread = await _walk(store, "3")
    assert thread.history == ()


async def test_budget_keeps_the_newest_turns() -> None:
    store = MemoryThreadStore()
    await _chain(store, 1000)
    thread = await _walk(store, "1000", budget=100)
    assert thread.dropped
    assert thread.history[-1].text == "m1000"
    assert thread.prompt_tokens <= 100
    assert thread.turns[0].text == "system"
    assert thread.turns[-1].text == "new"


async def test_system_prompt_and_message_over_budget_is_too_long() -> None:
    result = await build_thread(
        store=MemoryThreadStore(),
        lookup=None,
        counter=CharTokenCounter(),
        chat_id="1",
        reply_to=None,
        system_prompt="s" * 500,
        text="t",
        budget=100,
    )
    assert isinstance(result, TooLong)
    assert result.tokens > 100


@attrs.define
class PlatformMemory:
    """A messenger that still has messages the thread store lost."""

    nodes: dict[str, Node]
    asked: list[str] = attrs.field(factory=list)

    async def lookup(self, chat_id: str, message_id: str) -> Node | None:
        self.asked.append(message_id)
        return self.nodes.get(message_id)


async def test_missing_node_is_fetched_from_the_platform() -> None:
    store = MemoryThreadStore()
    await store.add([Node("1", "3", Role.ASSISTANT, "answer", "2")])
    platform = PlatformMemory({"2": Node("1", "2", Role.USER, "old question", None)})
    thread = await _walk(store, "3", lookup=platform)
    assert [t.text for t in thread.history] == ["old question", "answer"]
    assert platform.asked == ["2"]


async def test_the_footer_of_a_fetched_answer_is_not_sent_to_the_model() -> None:
    platform = PlatformMemory(
        {
            "7": Node("1", "7", Role.ASSISTANT, "Four.\n\nTokens used: 1 234", "6"),
            "6": Node("1", "6", Role.USER, "2+2?\n\nTokens used: 5", None),
        }
    )
    thread = await _walk(MemoryThreadStore(), "7", lookup=platform, clean=without_footer)
    assert [t.text for t in thread.history] == ["2+2?\n\nTokens used: 5", "Four."]


def test_without_footer_knows_both_languages() -> None:
    assert without_footer("Да.\n\nИзрасходовано токенов: 42") == "Да."
    assert without_footer("Tokens used: many") == "Tokens used: many"


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("key", ["cut_off", "cut_off_balance"])
def test_without_footer_also_drops_the_note_on_a_cut_off_answer(language: str, key: str) -> None:
    note = text(language, key, limit=1_500)
    footer = text(language, "footer", tokens=1_520)
    assert without_footer("The list goes on: a, b," + note + footer) == "The list goes on: a, b,"
    assert without_footer("Done." + note) == "Done."
    assert without_footer("A quote: " + note.strip() + " and more") == (
        "A quote: " + note.strip() + " and more"
    )


async def test_a_turn_too_long_to_fit_is_shortened_keeping_its_end() -> None:
    """ "continue" after a long answer cut at the cap must see how that answer ended."""
    store = MemoryThreadStore()
    answer = "start " + "word " * 4_000 + "THE END"
    await store.add(
        [
            Node("1", "1", Role.USER, "write a lot", None),
            Node("1", "2", Role.ASSISTANT, answer, "1"),
        ]
    )
    thread = await _walk(store, "2", text="continue", budget=1_000)
    (turn,) = thread.history
    assert turn.text.startswith("start word")
    assert turn.text.endswith("word THE END")
    assert "characters left out" in turn.text
    assert thread.dropped
    assert thread.prompt_tokens <= 1_000


async def test_a_walk_passes_through_an_error_the_bot_reported() -> None:
    store = MemoryThreadStore()
    await store.add(
        [
            Node("1", "1", Role.USER, "my name is Bob", None),
            Node("1", "2", Role.ASSISTANT, "Hello Bob", "1"),
            Node("1", "3", Role.USER, "what is my name?", "2"),
            Node("1", "4", None, "", "3"),  # "The model took too long… try again"
        ]
    )
    thread = await _walk(store, "4", text="try again")
    assert [t.text for t in thread.history] == ["my name is Bob", "Hello Bob", "what is my name?"]


def test_without_footer_drops_every_note_the_bot_adds() -> None:
    answer = "Text."
    for key in ("stopped", "dropped"):
        answer += text("en", key)
    answer += text("en", "footer_estimated", tokens=12)
    assert without_footer(answer) == "Text."


@attrs.define
class CountedReads(MemoryThreadStore):
    """Counts the store's reads: chains asked for, and the nodes they gave."""

    chains: list[int] = attrs.field(factory=list)  # the limit of each read

    async def links(self, chat_id: str, message_id: str, limit: int) -> list[Link]:
        self.chains.append(limit)
        return await super().links(chat_id, message_id, limit)


async def test_a_deep_walk_with_room_to_spare_is_one_read() -> None:
    """A thousand nodes with room for many more in one read (as many short turns as the
    budget holds), not a thousand."""
    store = CountedReads()
    await _chain(store, 1_000)
    thread = await _walk(store, "1000", budget=10**9)
    assert len(thread.history) == 1_000
    assert store.chains == [LONGEST_READ]


async def test_a_deep_walk_reads_the_chain_a_stretch_at_a_time() -> None:
    """With room for fewer short turns than the chain holds, the first read is what the room
    holds of them, the next as many as it can hold at the turns' real cost."""
    store = CountedReads()
    await _chain(store, 1_000)
    fixed = (await _walk(store, None)).prompt_tokens
    thread = await _walk(store, "1000", budget=fixed + 300 * SHORT_TURN)
    assert len(thread.history) == 1_000  # "m999" costs 6 as a turn: all of them fit
    first, then = store.chains
    assert first == 300
    assert 700 <= then < LONGEST_READ  # what the room left holds at 6 tokens a turn


async def test_a_walk_the_budget_will_stop_reads_twice_as_much_each_time() -> None:
    """When the budget left holds few more turns, the next stretch only doubles: the reads
    stay near what is sent."""
    store = CountedReads()
    await _chain(store, 1_000)
    fixed = (await _walk(store, None)).prompt_tokens  # the system prompt and the new message
    thread = await _walk(store, "1000", budget=fixed + 300 * 6)  # "m999" costs 6 as a turn
    assert thread.dropped
    assert 128 < len(thread.history) <= 300
    assert store.chains == [FIRST_READ, 2 * FIRST_READ]


async def test_a_walk_the_budget_stops_early_reads_one_stretch() -> None:
    store = CountedReads()
    await _chain(store, 1_000)
    thread = await _walk(store, "1000", budget=100)
    assert thread.dropped
    assert store.chains == [FIRST_READ]


async def test_reads_grow_no_longer_than_the_longest_read() -> None:
    store = CountedReads()
    await _chain(store, 20_000)
    await _walk(store, "20000", budget=10**9)
    assert max(store.chains) == LONGEST_READ
    assert sum(store.chains[:-1]) < 20_000 <= sum(store.chains)


async def test_after_a_lost_node_the_walk_reads_on_from_the_platform_s_node() -> None:
    store = CountedReads()
    await _chain(store, 10)
    await store.add([Node("1", "12", Role.USER, "m12", "11")])  # 11 is lost
    platform = PlatformMemory({"11": Node("1", "11", Role.ASSISTANT, "m11", "10")})
    thread = await _walk(store, "12", lookup=platform)
    assert [t.text for t in thread.history] == [f"m{n}" for n in range(1, 13)]
    assert platform.asked == ["11"]
    assert len(store.chains) == 3  # 12; 11, not in the store; 10 and its ancestors


async def test_the_fallback_reads_a_chain_one_node_at_a_time() -> None:
    store = MemoryThreadStore()
    await _chain(store, 5)
    await store.add([Node("1", "a", Role.USER, "a", "b"), Node("1", "b", Role.USER, "b", "a")])
    asked: list[str] = []

    async def get(chat_id: str, message_id: str) -> Node | None:
        asked.append(message_id)
        return await store.get(chat_id, message_id)

    assert [text for _, _, text, _, _ in await links_by_get(get, "1", "5", 10)] == [
        "m5",
        "m4",
        "m3",
        "m2",
        "m1",
    ]
    assert [text for _, _, text, _, _ in await links_by_get(get, "1", "5", 2)] == ["m5", "m4"]
    assert await links_by_get(get, "2", "5", 10) == []
    asked.clear()
    assert [text for _, _, text, _, _ in await links_by_get(get, "1", "a", 10)] == ["a", "b"]
    assert asked == ["a", "b"]
