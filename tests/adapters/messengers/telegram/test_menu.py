"""The command menu: one per language of the core's texts, the default one for everyone else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import core
from adapters.messengers.telegram.menu import command_menu
from core.texts import LANGUAGES, Language, text


def help_only(code: str) -> list[tuple[str, str]]:
    return [("help", text(code, "cmd_help"))]


def test_every_language_of_the_core_has_a_menu_and_the_default_serves_everyone_else() -> None:
    menus = command_menu(help_only, "en")
    assert menus.keys() == {"", *LANGUAGES} - {"en"}
    assert menus[""] == [("help", "How to use the bot")]
    assert menus["ru"] == [("help", "Как пользоваться ботом")]


def test_with_another_default_language_english_gets_a_menu_of_its_own() -> None:
    menus = command_menu(help_only, "ru")
    assert menus[""] == [("help", "Как пользоваться ботом")]
    assert menus["en"] == [("help", "How to use the bot")]


def test_a_new_language_in_the_catalogue_reaches_the_menu() -> None:
    german = {**LANGUAGES["en"].texts, "cmd_help": "wie man den Bot benutzt"}
    catalogue = {**LANGUAGES, "de": Language("de", german, LANGUAGES["en"].plural)}

    def menu(code: str) -> list[tuple[str, str]]:
        return [("help", catalogue[code].texts["cmd_help"])]

    menus = command_menu(menu, "en", catalogue)
    assert menus["de"] == [("help", "Wie man den Bot benutzt")]
    assert menus.keys() == {"", "ru", "de"}


# Run in a copy of the core whose core/texts/ has a German module besides en.py and ru.py.
_MENU_OF_THE_COPY = """
import json, sys
import core
from adapters.messengers.telegram.menu import command_menu
from core.texts import text
assert core.__file__.startswith(sys.argv[1]), core.__file__
print(json.dumps(command_menu(lambda code: [("help", text(code, "cmd_help"))], "en")))
"""


def test_a_language_module_added_to_the_core_reaches_the_menu_untouched(tmp_path: Path) -> None:
    """As a translator would do it: ``core/texts/de.py`` added, nothing else changed."""
    copy = tmp_path / "core"
    shutil.copytree(Path(core.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    english = (copy / "texts" / "en.py").read_text(encoding="utf-8")
    german = english.replace('"how to use the bot"', '"wie man den Bot benutzt"')
    assert german != english
    (copy / "texts" / "de.py").write_text(german, encoding="utf-8")
    shown = subprocess.run(
        [sys.executable, "-c", _MENU_OF_THE_COPY, str(copy)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    menus = json.loads(shown.stdout)
    assert menus["de"] == [["help", "Wie man den Bot benutzt"]]
    assert menus.keys() == {"", "ru", "de"}
