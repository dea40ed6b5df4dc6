"""The MODELS setting: which models the bot offers, each with its price, window and endpoint.

Entries are separated by ``;`` or new lines; each is a name, then ``key=value`` words and the
bare word ``vision``::

    MODELS=gpt-6-luna tools=web_search; gpt-5 price=10 vision; llama3.2 price=0 window=8192
           base_url=http://127.0.0.1:11434/v1 api_key=ollama description="local, free"

``api=responses`` or ``api=chat`` says which of the server's APIs answers: by default the
Responses API on OpenAI's own endpoint, Chat Completions on any other (llama.cpp has no
Responses API). ``tools=web_search`` offers the provider's web search (Responses API only).

Values with spaces are quoted with ``"`` (the words are split by ``shlex``: no other quote, no
escapes, no comments, so a key is read as written). ``api_key=$NAME`` reads the key from the
variable NAME, so a key need not be written into the list. An error names the entry by its
number and name, never by its text: the text may hold a key.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

import attrs

from adapters.models.openai.facts import on_openai, resolve_window, sees_pictures
from core.models import ModelOption
from entrypoints import setting_types as kinds
from entrypoints.setting_types import ConfigError, Secret

KEYS = ("price", "window", "base_url", "api_key", "description", "vision", "effort", "api", "tools")
APIS = ("responses", "chat")
TOOLS = ("web_search",)
# Bounds far beyond sensible values, to catch a typo (an extra zero) at start-up.
MAX_PRICE = 1_000.0
MAX_DESCRIPTION = 200
_SEPARATORS = ";\n"


@attrs.frozen
class ModelEntry:
    """One model offered: what the core knows of it (``option``) and how to reach it.

    ``api_key`` None: no key anywhere, so the offline model answers under this name.
    ``window`` is the operator's setting, ``reported_window`` what the model's server said at
    start-up (None: it was not asked, or said nothing)."""

    option: ModelOption
    base_url: str | None = None
    api_key: Secret | None = None
    window: int | None = None
    reasoning_effort: str | None = None
    reported_window: int | None = None
    api: str | None = None  # "responses" or "chat"; None: as ``default_api`` says

    @property
    def name(self) -> str:
        return self.option.name

    @property
    def uses_responses(self) -> bool:
        """Whether the Responses API answers (else Chat Completions)."""
        return (self.api or default_api(self.base_url)) == "responses"

    @property
    def offline(self) -> bool:
        return self.api_key is None

    @property
    def asks_its_server(self) -> bool:
        """Whether to ask its server for its window: none was set, and the server is not
        OpenAI's (where the name says it)."""
        return self.window is None and not self.offline and not on_openai(self.base_url)

    def context_window(self) -> int | None:
        """The window to fit this model's budgets in; None for an offline model not given
        one (the offline model has no window)."""
        if self.offline:
            return self.window
        return resolve_window(self.option.name, self.window, self.base_url, self.reported_window)


@attrs.frozen
class Defaults:
    """What an entry does not say: the OPENAI_* settings."""

    base_url: str | None
    api_key: Secret | None
    window: int | None  # MODEL_CONTEXT_WINDOW, for the model named by OPENAI_MODEL only
    model: str  # OPENAI_MODEL
    effort: str | None  # OPENAI_REASONING_EFFORT, when set
    effort_set: bool
    default_model: str  # the bot's own default model, asked for no reasoning
    default_effort: str


def default_api(base_url: str | None) -> str:
    """The API a model's server is asked through when its entry does not say: OpenAI's own
    endpoint has both and recommends Responses; other servers surely have Chat Completions."""
    return "responses" if on_openai(base_url) else "chat"


def parse_models(raw: str, env: Mapping[str, str], defaults: Defaults) -> tuple[ModelEntry, ...]:
    """The entries of MODELS, completed from ``defaults``; ConfigError naming a bad entry."""
    entries: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for number, words in enumerate(_entries(raw), 1):
        entry = _entry(number, words, env, defaults)
        key = entry.name.lower()
        if key in seen:
            raise ConfigError(
                f"MODELS entry {number} ({entry.name}) repeats the name of entry {seen[key]}: "
                "each model is offered once"
            )
        seen[key] = number
        entries.append(entry)
    if not entries:
        raise ConfigError("MODELS names no model: leave it empty to offer OPENAI_MODEL")
    return tuple(entries)


def default_entry(defaults: Defaults) -> ModelEntry:
    """MODELS empty: OPENAI_MODEL at price 1, or the offline model when there is no key."""
    if defaults.api_key is None:
        option = ModelOption(
            "offline", vision=True, description="no network: it describes what it receives"
        )
        return ModelEntry(option)
    # On OpenAI's API a name says whether the model sees; a local server's "llava" may have
    # been started without its projector, so there only MODELS (with "vision") says it does.
    sees = on_openai(defaults.base_url) and sees_pictures(defaults.model)
    return _complete(ModelOption(defaults.model, vision=sees), defaults)


def _complete(option: ModelOption, defaults: Defaults) -> ModelEntry:
    """The entry with what it does not say taken from the OPENAI_* settings."""
    name = option.name
    effort = defaults.effort if defaults.effort_set else None
    if not defaults.effort_set and name == defaults.default_model:
        effort = defaults.default_effort  # the bot's default model answers chat best so
    return ModelEntry(
        option,
        base_url=defaults.base_url,
        api_key=defaults.api_key,
        window=defaults.window if name == defaults.model else None,
        reasoning_effort=effort,
    )


def _entry(number: int, words: list[str], env: Mapping[str, str], defaults: Defaults) -> ModelEntry:
    name, rest = words[0], words[1:]
    where = f"MODELS entry {number} ({name})"
    if "=" in name or name.lower() == "vision" or not name.strip():
        raise ConfigError(f"MODELS entry {number} must start with the model's name")
    given: dict[str, str] = {}
    for word in rest:
        key, has_value, value = word.partition("=")
        key = key.lower()
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown word {key!r}; it may say {', '.join(KEYS)}")
        if not has_value and key != "vision":
            raise ConfigError(f"{where}: {key} needs a value ({key}=...)")
        if key in given:
            raise ConfigError(f"{where}: {key} is given twice")
        given[key] = value if has_value else "yes"
    option = ModelOption(
        name,
        price=_price(given["price"], where) if "price" in given else 1.0,
        # A name is no proof that a model sees: the entry says "vision" when it does.
        vision=kinds.yes_or_no(given["vision"], f"{where}: vision") if "vision" in given else False,
        description=_description(given.get("description"), where),
    )
    entry = _complete(option, defaults)
    if "window" in given:
        entry = attrs.evolve(entry, window=kinds.window(given["window"], f"{where}: window"))
    if "base_url" in given:
        entry = attrs.evolve(entry, base_url=kinds.url(given["base_url"], f"{where}: base_url"))
    if "api_key" in given:
        entry = attrs.evolve(entry, api_key=_key(given["api_key"], env, where))
    if "effort" in given:
        effort = kinds.effort(given["effort"], f"{where}: effort")
        entry = attrs.evolve(entry, reasoning_effort=effort)
    if "api" in given:
        api = given["api"].lower()
        if api not in APIS:
            raise ConfigError(f"{where}: api must be {' or '.join(APIS)}")
        entry = attrs.evolve(entry, api=api)
    if "tools" in given:
        entry = _with_tools(entry, given["tools"], where)
    return entry


def _with_tools(entry: ModelEntry, raw: str, where: str) -> ModelEntry:
    tools = {tool.strip().lower() for tool in raw.split(",") if tool.strip()}
    unknown = tools - set(TOOLS)
    if unknown:
        raise ConfigError(f"{where}: unknown tool {sorted(unknown)[0]!r}; tools may be web_search")
    if "web_search" in tools and not entry.uses_responses:
        raise ConfigError(f"{where}: web_search needs the Responses API (api=responses)")
    if entry.offline:  # the offline model searches nothing
        return entry
    return attrs.evolve(entry, option=attrs.evolve(entry.option, web_search="web_search" in tools))


def _price(raw: str, where: str) -> float:
    price = kinds.number(raw, f"{where}: price")
    kinds.within(f"{where}: price", price, 0, MAX_PRICE)
    return price


def _description(raw: str | None, where: str) -> str:
    text = " ".join((raw or "").split())
    if len(text) > MAX_DESCRIPTION:
        raise ConfigError(f"{where}: description must be at most {MAX_DESCRIPTION} characters")
    return text


def _key(raw: str, env: Mapping[str, str], where: str) -> Secret:
    if raw.startswith("$"):
        variable = raw[1:]
        value = env.get(variable, "").strip()
        if not value:
            raise ConfigError(f"{where}: api_key names ${variable}, which is not set")
        return Secret(value)
    if not raw:
        raise ConfigError(f"{where}: api_key is empty")
    return Secret(raw)


def _entries(raw: str) -> list[list[str]]:
    """The words of each entry: split at ``;`` and new lines, and at spaces outside quotes."""
    lexer = shlex.shlex(raw, posix=True, punctuation_chars=_SEPARATORS)
    lexer.whitespace = " \t\r"  # a new line separates entries, as ";" does
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    lexer.commenters = ""
    entries: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= set(_SEPARATORS):
                entries.append([])
            else:
                entries[-1].append(token)
    except ValueError:  # shlex's "No closing quotation"
        raise ConfigError('MODELS has a quote (") that is not closed') from None
    return [words for words in entries if words]
