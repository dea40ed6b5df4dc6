"""MODES_FILE: the operator's modes added to the shipped ones or replacing them, and every
mistake named with the file and the entry at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.modes import SHIPPED
from entrypoints.settings import ConfigError, settings_from

EXAMPLE = """
[modes.lawyer]
about = "careful answers on law"
prompt = "You are a careful lawyer."
temperature = 0.2
search = true

[modes.coder]
about = { en = "writes code", ru = "пишет код" }
prompt = { en = "You write code.", ru = "Ты пишешь код." }
"""


def test_a_file_adds_modes_and_replaces_shipped_ones_by_name(tmp_path: Path) -> None:
    (tmp_path / "modes.toml").write_text(EXAMPLE, encoding="utf-8")
    got = settings_from({"MODES_FILE": "modes.toml"}, tmp_path)
    names = [m.name for m in got.modes]
    assert names == [m.name for m in SHIPPED.modes] + ["lawyer"]
    lawyer, coder = got.modes[-1], got.modes[1]
    assert (lawyer.prompt("ru"), lawyer.temperature, lawyer.search) == (
        "You are a careful lawyer.",
        0.2,
        True,
    )
    assert (coder.prompt("ru"), coder.described("en")) == ("Ты пишешь код.", "writes code")
    assert got.bot_config("1").modes == got.modes


def test_replace_offers_the_files_modes_alone(tmp_path: Path) -> None:
    got = settings_from({}, tmp_path)
    assert got.modes == ()  # no file: the shipped set (the core's default)
    (tmp_path / "modes.toml").write_text("replace = true\n" + EXAMPLE, encoding="utf-8")
    got = settings_from({"MODES_FILE": "modes.toml"}, tmp_path)
    assert [m.name for m in got.modes] == ["lawyer", "coder"]


def test_a_model_must_be_one_offered(tmp_path: Path) -> None:
    toml = '[modes.big]\nprompt = "Think."\nmodel = "GPT-5"\n'
    (tmp_path / "modes.toml").write_text(toml, encoding="utf-8")
    got = settings_from({"MODES_FILE": "modes.toml", "MODELS": "gpt-4.1-mini; gpt-5"}, tmp_path)
    assert got.modes[-1].model == "gpt-5"  # as MODELS names it
    with pytest.raises(ConfigError, match=r"\[modes.big\]: the model 'GPT-5' is not offered"):
        settings_from({"MODES_FILE": "modes.toml", "MODELS": "gpt-4.1-mini"}, tmp_path)


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[modes.x]\nabout = 'no prompt'\n", r"\[modes.x\]: 'prompt' is missing"),
        ("[modes.x]\nprompt = 'p'\ntemperature = 5\n", r"\[modes.x\]: temperature must be"),
        ("[modes.x]\nprompt = 'p'\ntemperature = 'hot'\n", r"\[modes.x\]: 'temperature' must"),
        ("[modes.x]\nprompt = 'p'\nsearch = 'yes'\n", r"\[modes.x\]: 'search' must be true"),
        ("[modes.x]\nprompt = 'p'\npromt = 'typo'\n", r"\[modes.x\]: unknown key 'promt'"),
        ("[modes.x]\nprompt = { de = 'p' }\n", r"\[modes.x\]: prompt.de: the bot speaks en, ru"),
        ("[modes.Big]\nprompt = 'p'\n", r"\[modes.Big\]: a name is"),
        ("[modes.x]\nprompt = 1\n", r"\[modes.x\]: 'prompt' must be text"),
        ("replace = true\n", "offers no mode"),
        ("mode = 1\n", "unknown key 'mode'"),
        ("[modes.x\n", "not valid TOML"),
    ],
)
def test_mistakes_are_named_with_the_file_and_the_entry(
    tmp_path: Path, toml: str, problem: str
) -> None:
    (tmp_path / "modes.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as caught:
        settings_from({"MODES_FILE": "modes.toml"}, tmp_path)
    assert str(tmp_path / "modes.toml") in str(caught.value)


def test_a_prompt_too_long_for_the_context_is_refused(tmp_path: Path) -> None:
    toml = f'[modes.long]\nprompt = "{"word " * 2_000}"\n'
    (tmp_path / "modes.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[modes.long\]: the prompt \(en\) alone costs"):
        settings_from({"MODES_FILE": "modes.toml", "CONTEXT_TOKEN_LIMIT": "1000"}, tmp_path)
    assert settings_from({"MODES_FILE": "modes.toml"}, tmp_path).modes[-1].name == "long"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MODES_FILE .*nowhere.toml: cannot be read"):
        settings_from({"MODES_FILE": "nowhere.toml"}, tmp_path)
