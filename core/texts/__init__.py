"""Every text the bot says, by language: one module of this package per language.

A language module holds ``TEXTS`` (key -> text), ``plural(count) -> form index`` and
``DECIMAL_POINT``; adding a language is adding a module named by its code (``de.py``). Texts are
``str.format`` templates with three extra specs: ``{x:n}`` shows a number in groups (30 000),
``{x:t}`` a number to the tenth (2.7, and 3 for 3.0) and ``{x:p:one|many}`` picks the word form
for the number ``x`` (as many forms as the language's ``plural`` knows). ``{told}`` is where a
text says that the admin has been told: filled by whoever knows it is true (``admin_told``),
empty otherwise.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import string
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

FALLBACK: Final = "en"


@attrs.frozen
class Language:
    code: str
    texts: Mapping[str, str]
    plural: Callable[[int], int]
    decimal_point: str = "."


def _discover() -> dict[str, Language]:
    found: dict[str, Language] = {}
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        point = getattr(loaded, "DECIMAL_POINT", ".")
        found[module.name] = Language(module.name, loaded.TEXTS, loaded.plural, point)
    return found


LANGUAGES: Final = _discover()


def number(value: int) -> str:
    """A number with thin groups for reading: 30 000."""
    return f"{value:,}".replace(",", " ")


class _Formatter(string.Formatter):
    def __init__(self, language: Language) -> None:
        self._language = language

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "n":
            return number(int(value))
        if format_spec == "t":
            tenths = f"{round(float(value), 1):.1f}".removesuffix(".0")
            return tenths.replace(".", self._language.decimal_point)
        if format_spec.startswith("p:"):
            forms = format_spec[2:].split("|")
            return forms[min(self._language.plural(int(value)), len(forms) - 1)]
        return str(super().format_field(value, format_spec))


def choose_language(platform_language: str | None, default: str) -> str:
    """The language for a user: theirs when the platform says it and we speak it, else the
    configured default."""
    if platform_language:
        code = platform_language.split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else FALLBACK


def text(language: str, key: str, **values: object) -> str:
    """The text ``key`` in ``language`` (English where that language lacks it), filled in."""
    table = LANGUAGES.get(language, LANGUAGES[FALLBACK])
    template = table.texts.get(key)
    if template is None:
        table = LANGUAGES[FALLBACK]
        template = table.texts[key]
    values.setdefault("told", "")  # never say the admin was told unless the caller knows
    if _plain(template):  # no number, tenth or plural to spell: the quicker built-in
        return template.format_map(values)
    return _Formatter(table).vformat(template, (), values)


@functools.lru_cache(maxsize=1_024)
def _plain(template: str) -> bool:
    """Whether ``template`` uses none of ``_Formatter``'s own format specs."""
    return not any(spec in template for spec in (":n}", ":t}", ":p:"))


def _prefix(template: str) -> str:
    return template.split("{", 1)[0]


# What the bot appends to an answer, as (what comes before the number, what comes after it), so
# that an answer fetched back from a messenger can be cleaned of it.
_NOTES: Final = tuple(
    (_prefix(language.texts[key]), key)
    for language in LANGUAGES.values()
    for key in (
        "footer",
        "footer_estimated",
        "footer_charged",
        "footer_charged_estimated",
        "cut_off",
        "cut_off_balance",
    )
)
_FIXED: Final = tuple(
    language.texts[key].format(told=told)
    for language in LANGUAGES.values()
    for key in ("stopped", "dropped", "not_charged_storage")
    for told in ("", language.texts["admin_told"])
)


def without_footer(answer: str) -> str:
    """An answer as the model wrote it: the notes the bot added below it (token footer, cut-off
    and other notes) removed."""
    changed = True
    while changed:
        changed = False
        for note in _FIXED:
            if answer.endswith(note):
                answer = answer[: -len(note)]
                changed = True
        for before, _ in _NOTES:
            start = answer.rfind(before)
            if start > 0 and _is_note_tail(answer[start + len(before) :]):
                answer = answer[:start]
                changed = True
    return answer


def _is_note_tail(tail: str) -> bool:
    """Whether ``tail`` is the rest of a note after its opening words: it starts with a number
    (maybe "≈") and has no blank line in it."""
    tail = tail.lstrip("≈")
    return tail[:1].isdigit() and "\n\n" not in tail


def close_code_block(markdown: str) -> str:
    """``markdown`` with a code block left open (an answer cut at its cap) closed, so that what
    follows is not shown as code."""
    fences = sum(1 for line in markdown.splitlines() if line.lstrip().startswith("```"))
    return markdown + "\n```" if fences % 2 else markdown
