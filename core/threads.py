"""Conversations from reply chains.

A message that replies to a known message continues that message's thread; the thread for a
request is the walk from the replied-to message up its parents. The walk goes newest to oldest
and stops once the budget is spent, so its cost is bounded by what is sent, not by how deep the
chain is; a visited set makes damaged data (cycles) harmless. The store is asked for the chain a
stretch at a time (``ThreadStore.links``), each stretch twice as long as the one before, or
as long as the budget left can hold at the turns' average cost so far (the first as long as it
can hold of short turns): a short conversation is one read, a deep one a few, never a read per
node. The turn that does not fit
whole is shortened (its beginning and end kept, the gap marked) rather than dropped, so a reply
to a long answer ("continue") always sees that answer's end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from core.ports import MessageLookup, ThreadStore, TokenCounter
from core.tokens import TOKENS_PER_REQUEST, TOKENS_PER_TURN, turn_tokens
from core.values import Attachment, ChatId, Link, MessageId, Node, Role, Turn

# A thread store can lose nodes (retention, a wiped file); the platform may still have them, but
# each fetch is a network call, so only a few are made per request.
MAX_LOOKUPS = 3
# Nodes asked of the store in the first read of a walk at least, and at most in any read.
FIRST_READ = 128
LONGEST_READ = 4_096
# Tokens a turn is reckoned to cost when the first read is sized from the budget, before any
# turn is known: a short message's. A read costs what the chain holds, not its limit, so a
# generous first read only costs more for a chain deeper than the budget can send.
SHORT_TURN = 64
# A turn shortened to fewer tokens than this says too little to be worth sending.
MIN_SHORTENED = 48
GAP = "\n[… {count} characters left out …]\n"
# What stands for a picture the model is not sent (it cannot see, or older pictures beyond the
# number sent again): the conversation still says there was one.
PICTURE = "[picture]"


@attrs.frozen
class Thread:
    """The turns sent to the model: system prompt, history (oldest first), the new message."""

    system: Turn
    history: tuple[Turn, ...]
    message: Turn
    prompt_tokens: int
    dropped: bool  # older turns were left out, or one shortened, to fit the budget
    # The oldest message the walk reached (None: the new message starts the thread): what
    # names the conversation, as long as its start is sent.
    root: MessageId | None = None

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


def shorten(counter: TokenCounter, text: str, budget: int) -> str | None:
    """``text`` cut to cost at most ``budget`` tokens as a turn, keeping its beginning and (the
    larger part) its end with the gap marked; None when too little would be left."""
    if budget - TOKENS_PER_TURN < MIN_SHORTENED:
        return None

    def cut(keep: int) -> str:
        head = keep // 3
        tail = keep - head
        return text[:head] + GAP.format(count=len(text) - keep) + text[len(text) - tail :]

    low, high = 0, len(text) - 1  # characters kept; grows while the result fits
    while low < high:
        middle = (low + high + 1) // 2
        if turn_cost(counter, cut(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return cut(low) if low > 0 else None


async def build_thread(
    *,
    store: ThreadStore,
    lookup: MessageLookup | None,
    counter: TokenCounter,
    chat_id: ChatId,
    reply_to: MessageId | None,
    system_prompt: str,
    text: str,
    budget: int,
    clean: Callable[[str], str] = str,
    attachments: tuple[Attachment, ...] = (),
    pictures: int = 0,
) -> Thread | TooLong:
    """The thread for a new message replying to ``reply_to``, cut to ``budget`` tokens.

    ``clean`` tidies the text of a node fetched from the platform, which shows the bot's
    answers as sent (with their footer), not as the model wrote them. ``attachments`` are the
    new message's pictures; ``pictures`` is how many the model is sent in all (0: it cannot
    see): the newest first, older ones become a mark in their turn's text.
    """
    system = Turn(Role.SYSTEM, system_prompt)
    message, pictures = _with_pictures(Role.USER, text, attachments, pictures)
    used = TOKENS_PER_REQUEST + turn_cost(counter, system_prompt) + turn_tokens(counter, message)
    if used > budget:
        return TooLong(tokens=used, budget=budget)

    history: list[Turn] = []
    seen: set[MessageId] = set()
    lookups = 0
    dropped = False
    ahead: list[Link] = []  # the rest of the stretch read last, oldest first (popped from)
    root: MessageId | None = None
    read = 0  # nodes asked for in the last read
    fixed = used  # the system prompt's and the new message's tokens
    count = counter.count  # once per node of a deep walk: the lookups add up
    current = reply_to
    while current is not None and current not in seen:
        seen.add(current)
        if ahead and ahead[-1][0] == current:  # the link's message id
            link: Link | None = ahead.pop()
        else:
            read = _next_read(read, budget - used, used - fixed, len(history))
            ahead = list(reversed(await store.links(chat_id, current, read)))
            link = ahead.pop() if ahead and ahead[-1][0] == current else None
        if link is None and lookup is not None and lookups < MAX_LOOKUPS:
            lookups += 1
            link = _looked_up(await lookup.lookup(chat_id, current), chat_id, clean)
        if link is None:
            break
        root, role, text, current, attachments = link
        if role is None:  # an error the bot reported: no turn, the chain goes on above
            continue
        if attachments:
            turn, left = _with_pictures(role, text, _pictures(attachments), pictures)
            cost = turn_tokens(counter, turn)
        else:  # the usual turn, on the path of every deep walk: no picture to weigh
            turn, left = Turn(role, text), pictures
            cost = count(text) + TOKENS_PER_TURN
        if used + cost > budget:
            dropped = True
            short = shorten(counter, _marked(turn.text, len(turn.attachments)), budget - used)
            if short is not None:
                used += turn_cost(counter, short)
                history.append(Turn(role, short))
            break
        used += cost
        pictures = left
        history.append(turn)
    history.reverse()
    return Thread(system, tuple(history), message, used, dropped, root)


def _looked_up(node: Node | None, chat_id: ChatId, clean: Callable[[str], str]) -> Link | None:
    """The link of a node the messenger found, its answer's text tidied; None when there is
    none in this chat."""
    if node is None or node.chat_id != chat_id:
        return None
    if node.role is Role.ASSISTANT:
        node = attrs.evolve(node, text=clean(node.text))
    return node.link


def _next_read(last: int, room: int, spent: int, turns: int) -> int:
    """How many nodes to ask the store for next: first as many as ``room`` tokens hold of
    short turns (``SHORT_TURN``), at least ``FIRST_READ``; then twice the last read, or at once
    as many as ``room`` can hold at the average cost of the ``turns`` taken so far (``spent``
    tokens), so that a deep walk with room to spare is one or two reads, not five; never more
    than ``LONGEST_READ``."""
    if not last:
        return min(max(FIRST_READ, room // SHORT_TURN), LONGEST_READ)
    fits = room * turns // spent if spent > 0 else 0
    return min(max(2 * last, fits), LONGEST_READ)


async def links_by_get(
    get: Callable[[ChatId, MessageId], Awaitable[Node | None]],
    chat_id: ChatId,
    message_id: MessageId,
    limit: int,
) -> list[Link]:
    """``ThreadStore.links`` for a store that reads one node at a time with ``get``; it stops
    at a node it has already given (a cycle) rather than repeat it."""
    chain: list[Link] = []
    given: set[MessageId] = set()
    current: MessageId | None = message_id
    while current is not None and current not in given and len(chain) < limit:
        given.add(current)
        node = await get(chat_id, current)
        if node is None:
            break
        chain.append(node.link)
        current = node.parent
    return chain


async def chain_of(
    store: ThreadStore, chat_id: ChatId, message_id: MessageId, limit: int
) -> list[Node]:
    """``store.links`` as nodes: the node of this message and its ancestors, newest first."""
    return [Node(chat_id, *link) for link in await store.links(chat_id, message_id, limit)]


def _pictures(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    return tuple(a for a in attachments if a.kind == "image")


def _with_pictures(
    role: Role, text: str, attachments: tuple[Attachment, ...], left: int
) -> tuple[Turn, int]:
    """A turn keeping as many of its pictures as ``left`` allows (the first ones), the others
    marked in its text; how many may still be sent. Only a person's turn carries pictures: the
    chat format has no place for them in the bot's own."""
    kept = attachments[: max(left, 0)] if role is Role.USER else ()
    return Turn(role, _marked(text, len(attachments) - len(kept)), kept), left - len(kept)


def _marked(text: str, pictures: int) -> str:
    """``text`` after a mark for each of ``pictures`` not sent."""
    if pictures <= 0:
        return text
    marks = " ".join([PICTURE] * pictures)
    return f"{marks}\n{text}" if text else marks
