"""Prompt caching and web search in the core: what is charged, what is shown, what is asked."""

from __future__ import annotations

import attrs
import pytest

from core import budget
from core.models import ModelOption
from core.modes import SHIPPED, Mode
from core.values import Source, Usage
from tests.fakes import ScriptedModel
from tests.unit.conftest import ADMIN, ALICE, Harness, make_harness

SEARCHING = ModelOption("searcher", web_search=True)
PLAIN = ModelOption("plain")


def harness(model: ScriptedModel | None = None, **config: object) -> Harness:
    """A bot offering a model with web search (the default) and one without."""
    model = model or ScriptedModel()
    models = {SEARCHING.name: model, PLAIN.name: ScriptedModel()}
    config.setdefault("models", (SEARCHING, PLAIN))
    return make_harness(None, {"models": models}, **config)


# -- the tariff -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "tariff", "expected"),
    [
        (Usage(1200, 100), budget.Tariff(), 1300),
        # 800 of 1 200 prompt tokens from the cache at a tenth: 400 + 80 + 100.
        (Usage(1200, 100, cached_tokens=800), budget.Tariff(cached=0.1), 580),
        (Usage(1200, 100, cached_tokens=800), budget.Tariff(price=2, cached=0.5), 2 * 900),
        # Reasoning tokens are part of the completion: charged as output, not again.
        (Usage(100, 300, reasoning_tokens=200), budget.Tariff(), 400),
        # Searches at their own price, whatever the model's.
        (Usage(100, 100, searches=2), budget.Tariff(price=3, search=1000), 600 + 2000),
        # A server that says more was cached than was sent: at most the whole prompt.
        (Usage(100, 10, cached_tokens=500), budget.Tariff(cached=0), 10),
    ],
)
def test_the_tariff_charges_cached_input_and_searches(
    usage: Usage, tariff: budget.Tariff, expected: int
) -> None:
    assert tariff.cost(usage) == expected


def test_a_plain_price_charges_as_before() -> None:
    usage = Usage(1200, 100, cached_tokens=800)
    assert budget.charge(usage, None, 0, 1.5) == 1950  # no tariff: cached tokens at full price


# -- cached tokens ----------------------------------------------------------------------------


async def test_cached_tokens_are_charged_less_and_the_footer_says_so() -> None:
    model = ScriptedModel(usage=Usage(1200, 100, cached_tokens=800))
    bot = harness(model, cached_input_price=0.25)
    await bot.say("hi")

    charged = 400 + 200 + 100
    assert await bot.balance(ALICE.id) == 30_000 - charged
    assert (await bot.account(ALICE.id)).tokens == charged
    assert bot.last().endswith("Tokens used: 1 300 (800 cached) · charged: 700")


async def test_the_admin_is_shown_the_cached_tokens_too() -> None:
    model = ScriptedModel(usage=Usage(1200, 100, cached_tokens=800))
    bot = harness(model)
    await bot.say("hi", sender=attrs.evolve(ALICE, id=ADMIN))
    assert bot.last().endswith("Tokens used: 1 300 (800 cached)")


async def test_the_footer_in_russian_says_what_came_from_the_cache() -> None:
    model = ScriptedModel(usage=Usage(1200, 100, cached_tokens=800))
    bot = harness(model)
    await bot.say("привет", sender=attrs.evolve(ALICE, language="ru"))
    assert "(из кэша: 800)" in bot.last()


async def test_every_conversation_is_named_by_its_root() -> None:
    bot = harness()
    first = await bot.say("one")
    answer = bot.sink.sent[-1].message_ids[0]
    await bot.say("two", reply_to=answer)
    await bot.say("elsewhere")

    names = [request.conversation for request in bot.model.requests]
    assert names[0] == names[1] == f"{first.chat_id}:{first.message_id}"
    assert names[2] not in (names[0], None)


# -- web search -------------------------------------------------------------------------------


async def test_search_on_lets_answers_search_and_holds_their_price() -> None:
    model = ScriptedModel(usage=Usage(10, 5, searches=2))
    bot = harness(model, search_price=1000, max_searches=3)
    await bot.say("/search on")
    assert "1 000 tokens" in bot.last()
    assert (await bot.account(ALICE.id)).search

    await bot.say("what happened today?")
    assert bot.model.requests[-1].searches == 3
    assert await bot.balance(ALICE.id) == 30_000 - (15 + 2000)
    assert "web searches: 2" in bot.last()


async def test_search_off_stops_searching() -> None:
    bot = harness()
    await bot.say("/search on")
    await bot.say("/search off")
    await bot.say("/search")
    assert "off" in bot.last()
    await bot.say("hi")
    assert bot.model.requests[-1].searches == 0


async def test_a_model_without_the_tool_refuses_search_plainly() -> None:
    bot = harness()
    await bot.say("/model plain")
    await bot.say("/search on")

    assert "not available with plain" in bot.last()
    assert not (await bot.account(ALICE.id)).search


async def test_search_is_not_asked_of_a_model_without_the_tool() -> None:
    bot = harness()
    await bot.say("/search on")
    await bot.say("/model plain")
    await bot.say("hi")
    assert bot.sink.texts()[-1].startswith("Hello, world")
    plain = bot.service.models[PLAIN.name]
    assert isinstance(plain, ScriptedModel)
    assert plain.requests[-1].searches == 0


async def test_a_balance_that_cannot_pay_the_searches_is_refused() -> None:
    bot = harness(search_price=1000, max_searches=3, starting_balance=2_500)
    await bot.say("/search on")
    await bot.say("hi")
    assert "Not enough tokens" in bot.last()
    assert await bot.balance(ALICE.id) == 2_500


async def test_sources_end_the_answer_as_links() -> None:
    pages = (Source("https://example.org/a", "Page [A]"), Source("https://example.org/b"))
    bot = harness(ScriptedModel(sources=pages))
    await bot.say("/search on")
    await bot.say("news?")

    shown = bot.last()
    assert (
        "Hello, world\n\nSources:\n1. [Page (A)](https://example.org/a)\n"
        "2. [https://example.org/b](https://example.org/b)\n\nTokens used" in shown
    )
    # The conversation remembers the answer, not the list below it.
    await bot.say("more", reply_to=bot.sink.sent[-1].message_ids[0])
    assert bot.model.requests[-1].turns[-2].text == "Hello, world"


async def test_the_menu_offers_search_only_where_a_model_can() -> None:
    searching = harness().service.commands.menu("en")
    plain = make_harness().service.commands.menu("en")
    assert "search" in dict(searching)
    assert "search" not in dict(plain)


async def test_a_mode_that_says_so_turns_search_on_or_off_whatever_the_person_chose() -> None:
    researcher = Mode("researcher", {"en": "Look things up."}, {"en": "searches"}, search=True)
    quiet = Mode("quiet", {"en": "No searching."}, {"en": "offline"}, search=False)
    bot = harness(modes=(*SHIPPED.modes, researcher, quiet))
    await bot.say("/mode researcher")
    await bot.say("what happened today?")
    assert bot.model.requests[-1].searches == bot.service.config.max_searches > 0
    assert not (await bot.account(ALICE.id)).search  # the person's own choice is unchanged

    await bot.say("/search on")
    await bot.say("/mode quiet")
    await bot.say("hi")
    assert bot.model.requests[-1].searches == 0

    await bot.say("/mode off")  # back to the person's own choice: on
    await bot.say("hi again")
    assert bot.model.requests[-1].searches > 0
