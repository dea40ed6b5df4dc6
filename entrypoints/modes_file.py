"""MODES_FILE: the operator's modes, in TOML, added to the shipped ones or replacing them.

    replace = false        # true: only this file's modes are offered (the shipped ones go)

    [modes.lawyer]         # the name people type: /mode lawyer
    about = "careful answers on law"                   # shown by /mode
    prompt = "You are a careful lawyer. ..."           # the system prompt
    model = "gpt-4.1"      # optional: a model MODELS offers; choosing the mode chooses it
    temperature = 0.2      # optional: 0 to 2; left out, the model's own default
    search = true          # optional: web search on or off in this mode, once the bot has it

    [modes.coder]          # a shipped mode's name: this one replaces it
    about = { en = "writes code", ru = "пишет код" }   # by language, any text may be
    prompt = { en = "You are ...", ru = "Ты ..." }

Read once at start-up; every problem is a ConfigError naming the file and the entry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.modes import DEFAULT_MODE, SHIPPED, Mode, ModeBook, check
from core.texts import LANGUAGES
from core.tokens import CharTokenCounter, prompt_tokens
from core.values import Role, Turn
from entrypoints.setting_types import ConfigError

_KEYS = frozenset({"about", "prompt", "model", "temperature", "search"})


def read_modes(path: Path, offered: Sequence[str], prompt_limit: int) -> tuple[Mode, ...]:
    """The modes to offer: the shipped ones with the file's added or put in their place, or
    the file's alone (``replace = true``). ``offered`` names the models MODELS offers;
    ``prompt_limit`` is the most tokens a system prompt may take (estimated), so that a
    message still fits beside it."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"MODES_FILE {path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"MODES_FILE {path}: not valid TOML ({exc})") from None
    unknown = set(document) - {"replace", "modes"}
    if unknown:
        raise ConfigError(
            f"MODES_FILE {path}: unknown key {sorted(unknown)[0]!r} (only 'replace' and "
            "[modes.<name>] tables)"
        )
    replace = document.get("replace", False)
    if not isinstance(replace, bool):
        raise ConfigError(f"MODES_FILE {path}: 'replace' must be true or false")
    entries = document.get("modes", {})
    if not isinstance(entries, dict):
        raise ConfigError(f"MODES_FILE {path}: 'modes' must be tables: [modes.<name>]")
    modes = [_mode(path, name, entry, offered) for name, entry in entries.items()]
    for mode in modes:
        for code, prompt in mode.prompts.items():
            cost = prompt_tokens(CharTokenCounter(), [Turn(Role.SYSTEM, prompt)])
            if cost > prompt_limit:
                raise ConfigError(
                    f"MODES_FILE {path}: [modes.{mode.name}]: the prompt ({code}) alone costs "
                    f"about {cost:,} tokens, leaving no room for a message within "
                    "CONTEXT_TOKEN_LIMIT"
                )
    if replace and not modes:
        raise ConfigError(f"MODES_FILE {path}: replace = true but the file offers no mode")
    book = ModeBook(tuple(modes)) if replace else SHIPPED.merged(modes)
    return book.modes


def _mode(path: Path, name: str, entry: Any, offered: Sequence[str]) -> Mode:
    where = f"MODES_FILE {path}: [modes.{name}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    prompts = _texts(where, entry, "prompt")
    if not prompts and name != DEFAULT_MODE:
        raise ConfigError(f"{where}: 'prompt' is missing (the mode's system prompt)")
    temperature = entry.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise ConfigError(f"{where}: 'temperature' must be a number from 0 to 2")
    search = entry.get("search")
    if search is not None and not isinstance(search, bool):
        raise ConfigError(f"{where}: 'search' must be true or false")
    model = entry.get("model")
    if model is not None:
        if not isinstance(model, str):
            raise ConfigError(f"{where}: 'model' must be the name of a model")
        found = next((o for o in offered if o.lower() == model.strip().lower()), None)
        if found is None:
            raise ConfigError(
                f"{where}: the model {model!r} is not offered (MODELS offers {', '.join(offered)})"
            )
        model = found
    mode = Mode(
        name,
        prompts,
        _texts(where, entry, "about"),
        model=model,
        temperature=None if temperature is None else float(temperature),
        search=search,
    )
    problem = check(mode)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")
    return mode


def _texts(where: str, entry: Mapping[str, Any], key: str) -> dict[str, str]:
    """A text for every language (a string), or by language code (a table)."""
    value = entry.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        return {code: value.strip() for code in LANGUAGES} if value.strip() else {}
    if isinstance(value, dict):
        texts: dict[str, str] = {}
        for code, each in value.items():
            if code not in LANGUAGES:
                raise ConfigError(
                    f"{where}: {key}.{code}: the bot speaks {', '.join(sorted(LANGUAGES))}"
                )
            if not isinstance(each, str):
                raise ConfigError(f"{where}: {key}.{code} must be text")
            if each.strip():
                texts[code] = each.strip()
        return texts
    raise ConfigError(f"{where}: {key!r} must be text, or a table of texts by language")
