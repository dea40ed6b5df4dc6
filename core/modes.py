"""Modes: ready-made ways of answering a person picks with /mode.

A mode is a system prompt (in each language the bot speaks), and optionally a model, a
temperature and web search on or off. The shipped set is data: the names below, their prompts
and descriptions in ``core.texts`` (``mode_<name>_prompt``, ``mode_<name>_about``), so a new
language brings its modes' words with its other texts. The operator extends or replaces the set
with a file the composition root reads (``MODES_FILE``).

How a mode and a person's own prompt combine: choosing a mode (or leaving one) clears the
person's own prompt, so the mode's prompt is the one in force; a /prompt set afterwards
replaces the mode's prompt while the mode's model, temperature and search stay. /balance says
which prompt is in force.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from core.texts import FALLBACK, LANGUAGES
from core.values import Account

DEFAULT_MODE = "assistant"  # the mode of a person who chose none: the bot's default prompt
SHIPPED_NAMES = ("assistant", "coder", "translator", "editor", "tutor", "brief")
NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_TEMPERATURE = 2.0  # OpenAI's range, 0 to 2; other servers take the same or less


@attrs.frozen
class Mode:
    """One mode offered to people; ``prompts`` and ``about`` are by language code."""

    name: str  # lower case: what people type after /mode
    prompts: Mapping[str, str] = attrs.field(factory=dict, hash=False)  # empty: the default
    about: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    model: str | None = None  # a model offered; choosing the mode chooses it
    temperature: float | None = None  # None: the model's own default
    # Web search on (True) or off (False) while in this mode, where the model offers it; None
    # leaves the person's own /search choice.
    search: bool | None = None

    def prompt(self, language: str) -> str | None:
        """The mode's system prompt in ``language`` (else English, else any); None: the bot's
        default prompt."""
        return _in(self.prompts, language)

    def described(self, language: str) -> str:
        return _in(self.about, language) or ""


def _in(texts: Mapping[str, str], language: str) -> str | None:
    found = texts.get(language) or texts.get(FALLBACK)
    return found or next(iter(texts.values()), None)


def check(mode: Mode) -> str | None:
    """What is wrong with ``mode``, in plain words; None when nothing is."""
    if not NAME.match(mode.name):
        return "a name is 1 to 32 lower-case letters, digits, '-' or '_'"
    if mode.temperature is not None and not 0 <= mode.temperature <= MAX_TEMPERATURE:
        return f"temperature must be between 0 and {MAX_TEMPERATURE:g}"
    if mode.model is not None and not mode.model.strip():
        return "model must name a model, or be left out"
    return None


@attrs.frozen
class ModeBook:
    """The modes offered, in the order /mode lists them."""

    modes: tuple[Mode, ...] = attrs.field()

    @modes.validator
    def _check(self, attribute: object, value: tuple[Mode, ...]) -> None:
        names = [m.name for m in value]
        if len(set(names)) != len(names):
            raise ValueError("two modes under one name")
        for mode in value:
            problem = check(mode)
            if problem is not None:
                raise ValueError(f"mode {mode.name!r}: {problem}")

    def find(self, name: str) -> Mode | None:
        wanted = name.strip().lower()
        return next((m for m in self.modes if m.name == wanted), None)

    def of(self, account: Account) -> Mode | None:
        """The mode in force for ``account``: the one it chose while still offered, else the
        default mode when one is offered (None: the bot's default prompt alone)."""
        chosen = self.find(account.mode) if account.mode else None
        return chosen or self.find(DEFAULT_MODE)

    def merged(self, modes: Iterable[Mode]) -> ModeBook:
        """These modes with ``modes`` added; one of the same name replaces it in its place."""
        given = {m.name: m for m in modes}
        kept = [given.pop(m.name, m) for m in self.modes]
        return ModeBook((*kept, *given.values()))


def shipped() -> ModeBook:
    """The modes the bot ships, their words from every language's texts."""
    modes = []
    for name in SHIPPED_NAMES:
        prompts = _texts(f"mode_{name}_prompt")
        modes.append(Mode(name, prompts, _texts(f"mode_{name}_about")))
    return ModeBook(tuple(modes))


def _texts(key: str) -> dict[str, str]:
    # Raw, not formatted: a prompt may hold braces.
    return {code: lang.texts[key] for code, lang in LANGUAGES.items() if lang.texts.get(key)}


SHIPPED = shipped()
