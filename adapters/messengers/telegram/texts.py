"""What the Telegram adapter itself says: answers to messages the core never sees, the menu.

English and Russian, chosen by the language Telegram reports for the sender.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "unsupported": (
            "I can't use this kind of message (stickers, videos, polls and the like). "
            "I understand text, voice messages, pictures and text files."
        ),
        "anonymous": (
            "I can't answer messages sent on behalf of a group or a channel: answers are paid "
            "from a person's token balance. Please write as yourself."
        ),
        "shutting_down": "The bot is shutting down. Please try again in a minute.",
        "started": "The bot is running as @{bot}, answering with the {model}.",
    },
    "ru": {
        "unsupported": (
            "С такими сообщениями я не работаю (стикеры, видео, опросы и подобное). "
            "Я понимаю текст, голосовые сообщения, картинки и текстовые файлы."
        ),
        "anonymous": (
            "Я не отвечаю на сообщения от имени группы или канала: ответы оплачиваются с баланса "
            "человека. Напишите, пожалуйста, от своего имени."
        ),
        "shutting_down": "Бот выключается. Попробуйте через минуту.",
        "started": "Бот запущен как @{bot}, отвечает {model}.",
    },
}


def language_of(code: str | None, default: str = "en") -> str:
    """The language to answer in for Telegram's ``lang_code`` ("ru-RU", "en", None...)."""
    base = (code or "").split("-", 1)[0].lower()
    if base in _TEXTS:
        return base
    return default if default in _TEXTS else "en"


def say(language: str, key: str, **values: object) -> str:
    return _TEXTS[language_of(language)][key].format(**values)


def command_menu(
    menu: Callable[[str], list[tuple[str, str]]], languages: Sequence[str] = ("en", "ru")
) -> dict[str, list[tuple[str, str]]]:
    """Telegram's command menu by language code ("" is everyone else's, in English), from the
    core's ``menu(language)`` of (name, description) pairs."""
    menus = {
        code: [(n, about[:1].upper() + about[1:]) for n, about in menu(code)] for code in languages
    }
    menus[""] = menus.pop("en")
    return menus
