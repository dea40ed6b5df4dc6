"""What every settings module shares: the error that names a bad setting, secrets, and one
parser per kind of value.

A parser takes the raw text and the name to blame (``REPLY_TOKEN_LIMIT``, or
``MODELS entry 2 (gpt-5): price``) and returns the value or raises ``ConfigError`` naming it.
The environment's settings (``entrypoints.settings``) and the words of a MODELS entry
(``entrypoints.model_list``) are read with the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import TypeVar

import attrs

T = TypeVar("T")
Parser = Callable[[str, str], T]

# What OPENAI_REASONING_EFFORT and a MODELS entry's effort may say
# (adapters.models.openai.chat.ReasoningEffort; not imported here, so that settings never load
# the OpenAI SDK). "default" sends nothing.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


@attrs.frozen(repr=False)
class Secret:
    """A value that must not leak: ``str`` and ``repr`` show stars, ``reveal`` shows it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def text(raw: str, name: str) -> str:
    return raw


def whole(raw: str, name: str) -> int:
    """A whole number; ``_`` and spaces may group its digits (``1_000_000``)."""
    try:
        return int(raw.replace("_", "").replace(" ", ""))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def number(raw: str, name: str) -> float:
    """A finite number."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    return value


def within(name: str, value: float, low: float, high: float) -> None:
    """Refuse ``value`` outside ``low``..``high``: bounds far beyond any sensible value catch
    a typo (an extra zero, a unit mistaken) at start-up."""
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


def count(least: int, most: int) -> Parser[int]:
    """A whole number from ``least`` (0 or 1) to ``most``."""

    def parse(raw: str, name: str) -> int:
        value = whole(raw, name)
        if value < least:
            below = "cannot be negative" if least == 0 else "must be greater than zero"
            raise ConfigError(f"{name} {below}, got {value}")
        if value > most:
            raise ConfigError(f"{name} must be at most {most:,}, got {value:,}")
        return value

    return parse


MIN_WINDOW = 256
MAX_WINDOW = 100_000_000


def window(raw: str, name: str) -> int:
    """A model's context window, in tokens."""
    tokens = whole(raw, name)
    if not MIN_WINDOW <= tokens <= MAX_WINDOW:
        raise ConfigError(
            f"{name} must be between {MIN_WINDOW} and {MAX_WINDOW:,} tokens, got {tokens:,}"
        )
    return tokens


def seconds(most: float) -> Parser[float]:
    """A number of seconds, more than 0 and at most ``most``."""

    def parse(raw: str, name: str) -> float:
        value = number(raw, name)
        if value <= 0:
            raise ConfigError(f"{name} must be greater than zero, got {value}")
        within(name, value, 0, most)
        return value

    return parse


def boolean(raw: str, name: str) -> bool:
    return _flag(raw, name, "true or false")


def yes_or_no(raw: str, name: str) -> bool:
    """A boolean, as a MODELS entry spells its words."""
    return _flag(raw, name, "yes or no")


def _flag(raw: str, name: str, spelled: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be {spelled}, got {raw!r}")


def url(raw: str, name: str) -> str:
    """An http(s) address. The value is not quoted back: an address may carry a password."""
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// address")
    return raw


def effort(raw: str, name: str) -> str | None:
    """A reasoning effort; ``default`` (None) sends none."""
    value = raw.lower()
    if value == "default":
        return None
    if value not in REASONING_EFFORTS:
        choices = ", ".join(REASONING_EFFORTS)
        raise ConfigError(f"{name} must be default, {choices}; got {raw!r}")
    return value


def word(raw: str, name: str) -> str:
    """One word: a model's name."""
    if len(raw.split()) != 1:
        raise ConfigError(f"{name} must be one word (a model's name), got {raw!r}")
    return raw


def one_of(choices: Collection[str], spelled: str, *, upper: bool = False) -> Parser[str]:
    """One of ``choices`` in any case (kept in lower case, or upper with ``upper``);
    ``spelled`` lists them for the error."""

    def parse(raw: str, name: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name} must be {spelled}, got {raw!r}")
        return value

    return parse
