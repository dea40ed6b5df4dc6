"""/mode: ready-made system prompts, with a model and a temperature when a mode has them."""

from __future__ import annotations

import pytest

from core.models import ModelOption
from core.modes import SHIPPED, Mode, ModeBook
from core.prompts import DEFAULT_PROMPT
from core.texts import text
from core.values import Account, Role
from tests.fakes import ScriptedModel
from tests.unit.conftest import ALICE, BOB, Harness, make_harness


def system_prompt(bot: Harness, model: ScriptedModel | None = None) -> str:
    [system] = [t for t in (model or bot.model).requests[-1].turns if t.role is Role.SYSTEM]
    return system.text


def test_the_shipped_modes_speak_both_languages() -> None:
    names = [m.name for m in SHIPPED.modes]
    assert names == ["assistant", "coder", "translator", "editor", "tutor", "brief"]
    for mode in SHIPPED.modes:
        assert mode.described("en")
        assert mode.described("ru")
        assert mode.described("en") != mode.described("ru")
        if mode.name != "assistant":
            assert mode.prompt("en") != mode.prompt("ru")
    assert SHIPPED.modes[0].prompt("en") is None  # the assistant is the bot's default prompt


async def test_mode_lists_the_modes_with_the_persons_marked(bot: Harness) -> None:
    await bot.say("/mode")
    listed = bot.last()
    for mode in SHIPPED.modes:
        assert f"• {mode.name} — {mode.described('en')}" in listed
    assert "• assistant — a helpful assistant (the default) (yours)" in listed
    await bot.say("/mode coder")
    await bot.say("/mode")
    assert "• coder — writes and explains code (yours)" in bot.last()
    assert "(the default) (yours)" not in bot.last()


async def test_a_mode_brings_its_prompt_in_the_persons_language(bot: Harness) -> None:
    await bot.say("/mode coder")
    assert bot.last() == text("en", "mode_set", mode="coder")
    assert (await bot.account(ALICE.id)).mode == "coder"
    await bot.say("write a loop")
    assert system_prompt(bot) == SHIPPED.modes[1].prompt("en")
    await bot.say("/mode translator", sender=BOB)
    await bot.say("hello", sender=BOB)
    assert system_prompt(bot).startswith("Ты переводчик")


async def test_off_and_assistant_go_back_to_the_default(bot: Harness) -> None:
    for back in ("off", "assistant", "OFF"):
        await bot.say("/mode brief")
        await bot.say(f"/mode {back}")
        assert bot.last() == text("en", "mode_off")
        assert (await bot.account(ALICE.id)).mode is None
        await bot.say("hi")
        assert system_prompt(bot) == DEFAULT_PROMPT


async def test_an_unknown_mode_is_named_and_the_list_shown(bot: Harness) -> None:
    await bot.say("/mode pirate")
    assert bot.last().startswith("There is no mode called “pirate”.")
    assert "• coder" in bot.last()
    assert (await bot.account(ALICE.id)).mode is None


async def test_choosing_a_mode_clears_the_own_prompt_and_a_later_one_wins(bot: Harness) -> None:
    await bot.say("/prompt Talk like a pirate")
    await bot.say("/mode tutor")
    assert bot.last() == text("en", "mode_set", mode="tutor") + text("en", "mode_prompt_cleared")
    await bot.say("explain sets")
    assert system_prompt(bot) == SHIPPED.find("tutor").prompt("en")  # type: ignore[union-attr]
    await bot.say("/balance")
    assert bot.last().endswith(text("en", "balance_mode", mode="tutor"))

    await bot.say("/prompt Talk like a pirate")
    await bot.say("explain sets")
    assert system_prompt(bot) == "Talk like a pirate"
    await bot.say("/balance")
    assert bot.last().endswith(text("en", "balance_mode_own_prompt", mode="tutor"))
    assert (await bot.account(ALICE.id)).mode == "tutor"  # the mode stays


async def test_prompt_shows_the_modes_prompt_when_there_is_no_own(bot: Harness) -> None:
    await bot.say("/mode brief")
    await bot.say("/prompt")
    assert bot.last().startswith("You use the system prompt of the mode brief:")
    await bot.say("/prompt reset")
    await bot.say("hi")
    assert system_prompt(bot) == SHIPPED.find("brief").prompt("en")  # type: ignore[union-attr]


async def test_balance_says_nothing_of_the_default_mode(bot: Harness) -> None:
    await bot.say("/balance")
    assert bot.last() == text("en", "balance", balance=30_000)


async def test_a_modes_model_and_temperature_answer() -> None:
    small, big = ScriptedModel(), ScriptedModel()
    precise = Mode("precise", {"en": "Be exact."}, {"en": "exact"}, model="big", temperature=0.1)
    bot = make_harness(
        parts={"models": {"small": small, "big": big}},
        models=(ModelOption("small"), ModelOption("big")),
        modes=(*SHIPPED.modes, precise),
    )
    await bot.say("hi")
    assert small.requests[-1].temperature is None
    await bot.say("/mode precise")
    assert bot.last() == text("en", "mode_set", mode="precise") + text(
        "en", "mode_model", model="big"
    )
    await bot.say("how much is 0.1 + 0.2?")
    assert len(big.requests) == 1
    assert big.requests[-1].temperature == 0.1
    assert system_prompt(bot, big) == "Be exact."
    assert (await bot.account(ALICE.id)).model == "big"  # /model shows it, and may change it


async def test_a_mode_no_longer_offered_answers_as_the_default() -> None:
    bot = make_harness()
    await bot.say("hi")
    await bot.accounts.change(ALICE.id, lambda a: Account(a.user_id, a.balance, mode="gone"))
    await bot.say("hi again")
    assert system_prompt(bot) == DEFAULT_PROMPT
    await bot.say("/balance")
    assert "Mode" not in bot.last()


def test_a_mode_book_refuses_two_of_a_name_and_a_wild_temperature() -> None:
    with pytest.raises(ValueError, match="two modes"):
        ModeBook((Mode("a"), Mode("a")))
    with pytest.raises(ValueError, match="temperature"):
        ModeBook((Mode("hot", temperature=3.0),))
    with pytest.raises(ValueError, match="name"):
        ModeBook((Mode("Two Words"),))


def test_merged_modes_replace_by_name_in_place_and_add_at_the_end() -> None:
    coder = Mode("coder", {"en": "Mine."})
    book = SHIPPED.merged([Mode("lawyer", {"en": "Law."}), coder])
    assert [m.name for m in book.modes][-1] == "lawyer"
    assert book.modes[1] is coder
