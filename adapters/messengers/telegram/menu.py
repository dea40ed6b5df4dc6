"""Telegram's command menu: one per language the core's texts have (``core/texts/``), so a new
language module there reaches Telegram's menu without a change here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from core.texts import LANGUAGES

Menu = dict[str, list[tuple[str, str]]]


def command_menu(
    menu: Callable[[str], Sequence[tuple[str, str]]],
    default: str,
    languages: Iterable[str] = LANGUAGES,
) -> Menu:
    """Telegram's command menu by language code, from the core's ``menu(language)`` of
    (name, description) pairs: one for each of ``languages``, the ``default`` language's under
    "" (Telegram's menu for everyone whose language has none of its own)."""
    menus = {
        code: [(name, about[:1].upper() + about[1:]) for name, about in menu(code)]
        for code in languages
    }
    menus[""] = menus.pop(default)
    return menus
