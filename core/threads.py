"""Conversations from reply chains.

A message that replies to a known message continues that message's thread; the thread for a
request is the walk from the replied-to message up its parents. The walk goes newest to oldest
and stops as soon as the next turn would not fit the budget, so its cost is bounded by what is
sent, not by how deep the chain is; a visited set makes damaged data (cycles) harmless.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from core.ports import MessageLookup, ThreadStore, TokenCounter
from core.tokens import TOKENS_PER_REQUEST, TOKENS_PER_TURN
from core.values import Node, Role, Turn

# A thread store can lose nodes (retention, a wiped file); the platform may still have them, but
# each fetch is a network call, so only a few are made per request.
MAX_LOOKUPS = 3


@attrs.frozen
class Thread:
    """The turns sent to the model: system prompt, history (oldest first), the new message."""

    system: Turn
    history: tuple[Turn, ...]
    message: Turn
    prompt_tokens: int
    dropped: bool  # True when older turns were left out to fit the budget

    @property
    def turns(self) -> tuple[Turn, ...]:
        return (self.system, *self.history, self.message)


@attrs.frozen
class TooLong:
    """The system prompt and the new message alone do not fit the budget."""

    tokens: int
    budget: int


def turn_cost(counter: TokenCounter, text: str) -> int:
    return counter.count(text) + TOKENS_PER_TURN


async def find_node(
    store: ThreadStore, lookup: MessageLookup | None, chat_id: int, message_id: int
) -> Node | None:
    """The node of a message: from the store, else from the platform when it can tell."""
    node = store.get(chat_id, message_id)
    if node is None and lookup is not None:
        node = await lookup.lookup(chat_id, message_id)
    return node


async def build_thread(
    *,
    store: ThreadStore,
    lookup: MessageLookup | None,
    counter: TokenCounter,
    chat_id: int,
    reply_to: int | None,
    system_prompt: str,
    text: str,
    budget: int,
    clean: Callable[[str], str] = str,
) -> Thread | TooLong:
    """The thread for a new message replying to ``reply_to``, cut to ``budget`` tokens.

    ``clean`` tidies the text of a node fetched from the platform, which shows the bot's
    answers as sent (with their footer), not as the model wrote them.
    """
    system = Turn(Role.SYSTEM, system_prompt)
    message = Turn(Role.USER, text)
    used = TOKENS_PER_REQUEST + turn_cost(counter, system_prompt) + turn_cost(counter, text)
    if used > budget:
        return TooLong(tokens=used, budget=budget)

    history: list[Turn] = []
    seen: set[int] = set()
    lookups = 0
    dropped = False
    current = reply_to
    while current is not None and current not in seen:
        seen.add(current)
        node = store.get(chat_id, current)
        if node is None and lookup is not None and lookups < MAX_LOOKUPS:
            lookups += 1
            node = await lookup.lookup(chat_id, current)
            if node is not None and node.role is Role.ASSISTANT:
                node = attrs.evolve(node, text=clean(node.text))
        if node is None or node.chat_id != chat_id:
            break
        cost = turn_cost(counter, node.text)
        if used + cost > budget:
            dropped = True
            break
        used += cost
        history.append(Turn(node.role, node.text))
        current = node.parent
    history.reverse()
    return Thread(system, tuple(history), message, used, dropped)
