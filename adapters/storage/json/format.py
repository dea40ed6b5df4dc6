"""The data.json format: reading it, checking what can be written back, writing it streaming.

    {"global": {"requests": 0, "tokens": 0},
     "123": {"requests": 0, "tokens": 0, "balance": 30000, "name": "John",
             "username": "@johndoe", "lastdate": "01.02.2023 10:11:12", "prompt": "..."}}

This is the older bot's format, and a file this bot writes can go back to the older bot: every
account keeps the keys it was read with. ``lastdate`` is written in the older bot's
``dd.mm.YYYY HH:MM:SS``; ``last_request`` (written by earlier versions of this bot) is kept
where it was found, and of the two the newer date counts. ``username`` is always written
(``"None"`` when there is none, as the older bot does). Dates before 2015, the older bot's
placeholders for "never" (``11-09-2001 00:00:00``), read as never and are written back as they
were. ``"blacklist": true`` is the account's ``banned``. ``lang_model`` (the older bot's later
versions) is the account's ``model``, the name of the model the person chose: absent, ``null``
or ``""`` is the default model (None), and a ``null`` or ``""`` is written back as it was. Keys
this code does not know, in an entry or at the top level, are kept as they are.
``allowance`` (the admin's /allowance for the person), ``refilled`` (the allowance period
last refilled) and ``mode`` (the person's /mode) are this bot's own, written only when set; the
older bot ignores them, and ``voice`` (true: the person's /voice on) likewise; so is ``search``
(the person's /search on), written only when true. The access list lives in ``global``
(``adapters.storage.access``).

Accounts of a messenger whose ids are not numbers (Matrix's ``@name:server``) are kept in a
file beside data.json (``text_accounts_file``: ``data.matrix.json``), an object of such entries
in the same format: the older bot reads every top-level key of data.json but the first as a
number (``int(key)``) and would not start on a file holding one. A data.json that holds such
keys (written before this file existed) still loads; the next rewrite moves them.

Everything read must be writable back, or a later save would fail on it: numbers are bounded
(``LIMIT``), nesting is shallow, user ids are ASCII digits, text is valid Unicode. A file that
breaks these rules is refused at start-up, and a change that would is refused at run time.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, overload

import attrs

from core.values import Account, Totals

log = logging.getLogger(__name__)
_T = TypeVar("_T")

GLOBAL = "global"
LIMIT = 10**15  # balances and counters stay below this; far above any real one
MAX_DEPTH = 64  # nesting of values kept for keys this code does not know
MAX_ID_DIGITS = 32
ISO_FORMAT = "%Y-%m-%d %H:%M:%S"  # last_request, as earlier versions of this bot wrote it
OLD_FORMAT = "%d.%m.%Y %H:%M:%S"  # lastdate, the older bot's
_NEVER_BEFORE = dt.datetime(2015, 1, 1)  # older than any chat bot: a placeholder for "never"
_KNOWN = frozenset(
    {
        "requests",
        "tokens",
        "balance",
        "name",
        "username",
        "last_request",
        "lastdate",
        "prompt",
        "blacklist",
        "lang_model",
        "allowance",
        "refilled",
        "voice",
        "search",
        "mode",
    }
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


class Invalid(Exception):
    """A problem found while reading; becomes CorruptData naming the file."""


class Unwritable(Exception):
    """A value that could not be written back (too big, too deep, invalid text)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # called for every object in the file: the common case stays in C
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise Invalid(f"the key {key!r} appears twice")
            seen.add(key)
    return result


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"the number {text[:20]} is too large to keep")
    return value


def _no_constant(text: str) -> float:
    raise Invalid(f"{text} is not a number JSON allows")


DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_float=_finite, parse_constant=_no_constant
)


def decode(text: str) -> Any:
    """One JSON value; Invalid for anything that cannot be read or written back."""
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise Invalid("it is nested too deeply") from None
    except ValueError as exc:  # also the interpreter's limit on digits in a number
        raise Invalid(f"it is not valid JSON ({exc})") from exc


def check_number(value: int, what: str) -> None:
    if not -LIMIT < value < LIMIT:
        raise Unwritable(f"{what} {str(value)[:20]}... is beyond the limit of {LIMIT:.0e}")


def check_value(value: object, what: str) -> None:
    """A value kept for a key this code does not know: shallow, valid text, bounded."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Unwritable(f"{what} is nested more than {MAX_DEPTH} deep")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            check_text(item, what)


def check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Unwritable(f"{what} is not valid text (it has a lone surrogate)") from None


def check_account(account: Account) -> None:
    """Raises Unwritable when ``account`` could not be written to data.json."""
    if _plainly_writable(account):  # every change is checked: the usual account, quickly
        return
    user = f"user {account.user_id}"
    for field in ("balance", "requests", "tokens"):
        value = getattr(account, field)
        if type(value) is not int:
            raise Unwritable(f"{user}: {field} must be a whole number, not {value!r}")
        check_number(value, f"{user}: {field}")
    if type(account.user_id) is not str or not is_user_key(account.user_id):
        raise Unwritable(
            f"the user id {str(account.user_id)[:40]!r} is neither a plain number nor @name:server"
        )
    if account.allowance is not None:
        if type(account.allowance) is not int:
            raise Unwritable(f"{user}: allowance must be a whole number")
        check_number(account.allowance, f"{user}: allowance")
    for field in ("name", "username", "prompt", "model", "refilled", "mode"):
        value = getattr(account, field)
        if value is not None:
            if type(value) is not str:
                raise Unwritable(f"{user}: {field} must be text, not {value!r:.40}")
            check_text(value, f"{user}: {field}")


def _plainly_writable(account: Account) -> bool:
    """Whether ``account`` passes ``check_account`` without a close look: numbers that are
    ints within the limit, a plain user id, ASCII text (no lone surrogate possible). False
    says only that the close look is needed."""
    for value in (account.balance, account.requests, account.tokens):
        if type(value) is not int or not -LIMIT < value < LIMIT:
            return False
    allowance = account.allowance
    if allowance is not None and (type(allowance) is not int or not -LIMIT < allowance < LIMIT):
        return False
    user_id = account.user_id
    if type(user_id) is not str or not is_user_key(user_id):
        return False
    texts = (account.name, account.username, account.prompt, account.model)
    return all(
        value is None or (type(value) is str and value.isascii())
        for value in (*texts, account.refilled, account.mode)
    )


def check_totals(totals: Totals) -> None:
    check_number(totals.requests, "the total of requests")
    check_number(totals.tokens, "the total of tokens")


# A messenger whose ids are not numbers: Matrix's "@localpart:server". Such an account is a
# top-level key like the older bot's numeric ones, written with every key that bot reads.
_TEXT_ID = re.compile(r"@[^\s:]{1,255}:[^\s]{1,255}")


def is_user_key(key: str) -> bool:
    """Whether ``key`` is a user id: a number as ``str(int)`` writes it, in ASCII digits ("05"
    is not: it would be "5"; "²" is a digit to Python, not to ``int`` in every version), or a
    Matrix user id."""
    if key[:1] == "@":
        return _TEXT_ID.fullmatch(key) is not None
    digits = key[1:] if key[:1] == "-" else key
    return (
        digits.isascii()
        and digits.isdigit()
        and len(digits) <= MAX_ID_DIGITS
        and (digits[0] != "0" or key == "0")
    )


def whole_number(entry: dict[str, Any], field: str, where: str, default: int | None = None) -> int:
    value = entry.get(field, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{where}: {field!r} must be a whole number, found {value!r}")
    try:
        check_number(value, f"{where}: {field!r}")
    except Unwritable as exc:
        raise Invalid(str(exc)) from None
    return value


_from_iso = dt.datetime.fromisoformat


def _date(raw: object) -> dt.datetime | None:
    """A date in any of the formats the bots wrote; None if unreadable or a placeholder."""
    if not isinstance(raw, str) or len(raw) != 19:
        return None
    if raw[2] in ".-" and raw[5] == raw[2]:  # dd.mm.YYYY: reordered for the fast parser
        raw = f"{raw[6:10]}-{raw[3:5]}-{raw[0:2]}{raw[10:]}"
    if raw[4] != "-" or raw[10] != " ":
        return None
    try:
        date = _from_iso(raw)
    except ValueError:
        return None
    # A zone (no bot wrote one) makes it no date of ours: kept as it was, like a placeholder.
    return None if date.tzinfo is not None or date < _NEVER_BEFORE else date


# What must be written back besides the account is often the same few markers (the entry had a
# last_request, a placeholder date): those share one dict each instead of one per account.
# They are never changed in place (``_with`` copies).
_NONE: dict[str, Any] = {}
_SHARED: dict[tuple[str, object], dict[str, Any]] = {}


def _with(extra: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    if extra:
        return {**extra, key: value}
    marker = (key, value)
    if isinstance(value, str | bool | None) and len(_SHARED) < 1_000:
        return _SHARED.setdefault(marker, {key: value})
    return {key: value}


# The arguments of ``Account``, in the order of its fields: an account read and checked, not
# yet built.
AccountFields = tuple[
    str,
    int,
    int,
    int,
    str | None,
    str | None,
    dt.datetime | None,
    str | None,
    bool,
    str | None,
    int | None,
    str | None,
    bool,
    bool,
    str | None,
]
LAST_REQUEST = 6  # the date in ``AccountFields``: whole seconds in a preload's (``preload``)
FIRST_DAY = dt.datetime(1, 1, 1)  # what a preload's seconds count from


def date_of(seconds: int) -> dt.datetime:
    """A date a preload kept as whole seconds since ``FIRST_DAY``."""
    return FIRST_DAY + dt.timedelta(seconds=seconds)


def read_account(key: str, entry: object, check_texts: bool) -> tuple[Account, dict[str, Any]]:
    """The account of one entry, and what else of the entry must be written back."""
    fields, extra = read_entry(key, entry, check_texts)
    return Account(*fields), extra


def read_entry(key: str, entry: object, check_texts: bool) -> tuple[AccountFields, dict[str, Any]]:
    """The account of one entry as the arguments of ``Account`` (checked, not yet built), and
    what else of the entry must be written back.

    Start-up time with many users is spent here, so the usual entry takes a path of plain
    lookups; anything else gets the checks with precise messages. ``check_texts``: the file
    has escapes that may make invalid text, so every string is checked.
    """
    if type(entry) is not dict:
        raise Invalid(f"user {key}: expected an object, found {entry!r}")
    get = entry.get
    balance, requests, tokens = get("balance"), get("requests", 0), get("tokens", 0)
    if not (
        type(balance) is int
        and type(requests) is int
        and type(tokens) is int
        and -LIMIT < balance < LIMIT
        and -LIMIT < requests < LIMIT
        and -LIMIT < tokens < LIMIT
    ):
        where = f"user {key}"
        balance = whole_number(entry, "balance", where)
        requests = whole_number(entry, "requests", where, 0)
        tokens = whole_number(entry, "tokens", where, 0)
    name, username, prompt = get("name"), get("username"), get("prompt")
    model = get("lang_model")
    if (
        (name is not None and type(name) is not str)
        or (username is not None and type(username) is not str)
        or (prompt is not None and type(prompt) is not str)
        or (model is not None and type(model) is not str)
    ):
        texts = (("name", name), ("username", username), ("prompt", prompt), ("lang_model", model))
        for field, value in texts:
            if value is not None and type(value) is not str:
                raise Invalid(f"user {key}: {field!r} must be text, found {value!r}")
    extra = _NONE if entry.keys() <= _KNOWN else {k: v for k, v in entry.items() if k not in _KNOWN}
    if username in {"None", "@None", ""}:
        if username != "None":
            extra = _with(extra, "username", username)
        username = None
    # Both dates are kept where they were found; the newer one counts (a file that went back
    # to the older bot and returned has a newer lastdate than its last_request).
    raw_old, raw_new = get("lastdate"), get("last_request")
    old = None
    if raw_old is not None:
        if type(raw_old) is str and len(raw_old) == 19 and raw_old[2] == ".":
            # The usual dd.mm.YYYY, inline: start-up reads one per user.
            reordered = f"{raw_old[6:10]}-{raw_old[3:5]}-{raw_old[:2]}{raw_old[10:]}"
            try:
                old = _from_iso(reordered)  # ASCII digits only, like every parser here
            except ValueError:
                old = None
            if old is not None and (old.tzinfo is not None or old < _NEVER_BEFORE):
                old = None
        else:
            old = _date(raw_old)
        if old is None:
            extra = _with(extra, "lastdate", raw_old)  # a placeholder: written back as it was
    if raw_new is None:
        last = old
    else:
        new = _date(raw_new)
        last = max(old, new) if old and new else old or new
        extra = _with(extra, "last_request", raw_new if new is None else True)
    banned = get("blacklist")
    if banned is not None:
        extra = _with(extra, "blacklist", banned)
    if not model and "lang_model" in entry:
        extra = _with(extra, "lang_model", model)  # null or "": the default, written as it was
    allowance, refilled = get("allowance"), get("refilled")
    if allowance is not None:
        allowance = whole_number(entry, "allowance", f"user {key}")
    if refilled is not None and type(refilled) is not str:
        raise Invalid(f"user {key}: 'refilled' must be text, found {refilled!r}")
    voice = get("voice", False)
    if voice is not False:
        if type(voice) is not bool:
            raise Invalid(f"user {key}: 'voice' must be true or false, found {voice!r}")
    elif "voice" in entry:
        extra = _with(extra, "voice", False)  # written back as it was
    search = get("search")
    if search is not None and type(search) is not bool:
        raise Invalid(f"user {key}: 'search' must be true or false, found {search!r}")
    mode = get("mode")
    if mode is not None and type(mode) is not str:
        raise Invalid(f"user {key}: 'mode' must be text, found {mode!r}")
    # Positional, in the order of Account's fields (a test keeps it so).
    fields = (
        key,  # user_id
        balance,
        requests,
        tokens,
        name or None,
        username.lstrip("@") if username else None,
        last,  # last_request
        prompt or None,
        banned is True,
        model or None,
        allowance,
        refilled,
        voice,
        search is True,
        mode or None,
    )
    if check_texts or not extra.keys() <= _KNOWN:
        try:
            check_account(Account(*fields))
            for field, value in extra.items():
                check_value(value, f"user {key}: {field!r}")
        except Unwritable as exc:
            raise Invalid(str(exc)) from None
    return fields, extra


def write_entry(account: Account, extra: dict[str, Any]) -> dict[str, Any]:
    """The entry of ``account`` in data.json, with the keys it was read with."""
    entry: dict[str, Any] = {
        "requests": account.requests,
        "tokens": account.tokens,
        "balance": account.balance,
    }
    if account.name is not None:
        entry["name"] = account.name
    username = account.username
    entry["username"] = "@" + username if username else extra.get("username", "None")
    last = account.last_request
    if last is not None:
        entry["lastdate"] = last.strftime(OLD_FORMAT)
        if "last_request" in extra:
            entry["last_request"] = last.strftime(ISO_FORMAT)
    else:
        for key in ("lastdate", "last_request"):
            if isinstance(extra.get(key), str):
                entry[key] = extra[key]
    if account.prompt is not None:
        entry["prompt"] = account.prompt
    if account.banned or "blacklist" in extra:
        entry["blacklist"] = account.banned
    if account.model is not None:
        entry["lang_model"] = account.model
    elif "lang_model" in extra:
        entry["lang_model"] = extra["lang_model"]
    if account.allowance is not None:
        entry["allowance"] = account.allowance
    if account.refilled is not None:
        entry["refilled"] = account.refilled
    if account.voice or "voice" in extra:
        entry["voice"] = account.voice
    if account.search:
        entry["search"] = True
    if account.mode is not None:
        entry["mode"] = account.mode
    for key, value in extra.items():
        if key not in _KNOWN:
            entry[key] = value
    return entry


class Accounts(MutableMapping[str, Account]):
    """The accounts by user id, in the file's order. Those read from data.json are kept as
    their checked arguments and built on first use: building 100 000 ``attrs`` values is about
    a fifth of reading data.json, most users are not seen in a run, and the arguments take about the
    room of the account. A damaged file is still refused at load: reading checks every entry."""

    def __init__(self, entries: dict[str, Account | AccountFields] | None = None) -> None:
        self._entries: dict[str, Account | AccountFields] = {} if entries is None else entries

    def __getitem__(self, user_id: str) -> Account:
        found = self._entries[user_id]
        if type(found) is tuple:
            found = self._entries[user_id] = _built(found)
        return found  # type: ignore[return-value]  # a tuple became an Account just above

    @overload
    def get(self, user_id: str, /) -> Account | None: ...
    @overload
    def get(self, user_id: str, /, default: Account | _T) -> Account | _T: ...
    def get(self, user_id: str, /, default: object = None) -> object:
        # Read for every message: one lookup, not the mixin's raise and catch of a KeyError
        # for every new user.
        return self[user_id] if user_id in self._entries else default

    def __setitem__(self, user_id: str, account: Account) -> None:
        self._entries[user_id] = account

    def __delitem__(self, user_id: str) -> None:
        del self._entries[user_id]

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Accounts({len(self._entries)} accounts)"

    def read(self, user_id: str, fields: AccountFields) -> None:
        """Keep an account read from the file, to be built when first used."""
        self._entries[user_id] = fields

    def copy(self) -> Accounts:
        """A copy of the mapping (the accounts, frozen values, are shared), none built."""
        return Accounts(dict(self._entries))

    def parted(self, picked: Callable[[str], bool]) -> tuple[Accounts, Accounts]:
        """The accounts whose id ``picked`` refuses, and those it picks; none built."""
        kept: dict[str, Account | AccountFields] = {}
        chosen: dict[str, Account | AccountFields] = {}
        for user_id, found in self._entries.items():
            (chosen if picked(user_id) else kept)[user_id] = found
        return Accounts(kept), Accounts(chosen)

    def raw(self) -> Iterator[tuple[str, Account | AccountFields]]:
        """Every entry as held: an account, or the fields of one not built yet (from a
        preload, with the date as whole seconds: ``_built`` makes it a date again)."""
        return iter(self._entries.items())

    def each(self) -> Iterator[tuple[str, Account]]:
        """Every account, in order; those not built yet are built for the caller and not kept
        (writing data.json out does not make memory hold every account)."""
        for user_id, found in self._entries.items():
            yield user_id, _built(found)


def _built(found: Account | AccountFields) -> Account:
    if type(found) is not tuple:
        return found  # type: ignore[return-value]  # an Account
    last: object = found[LAST_REQUEST]
    if type(last) is int:  # from a preload, which keeps dates as seconds
        found = (*found[:LAST_REQUEST], date_of(last), *found[LAST_REQUEST + 1 :])  # type: ignore[assignment]
    return Account(*found)


@attrs.define
class Contents:
    """Everything data.json holds, keyed by the user ids as written (text)."""

    accounts: Accounts = attrs.field(factory=Accounts)
    extras: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    totals: Totals = attrs.field(factory=Totals)
    global_extra: dict[str, Any] = attrs.field(factory=dict)
    top_extra: dict[str, Any] = attrs.field(factory=dict)


_SPACE = re.compile(rb"[ \t\n\r]*")
_TEXT_SPACE = re.compile(r"[ \t\n\r]*")
_ENTRY_END = re.compile(rb"\}[ \t\n\r]*,")
_SLICE = 1 << 16  # bytes decoded at once when loading


def _skip_space(data: bytes, at: int) -> int:
    match = _SPACE.match(data, at)
    return match.end() if match else at


def _skip_text_space(text: str, at: int) -> int:
    match = _TEXT_SPACE.match(text, at)
    return match.end() if match else at


def top_level_pairs(data: bytes, slice_bytes: int = _SLICE) -> Iterator[tuple[str, Any]]:
    """The key/value pairs of the top-level object, decoded a slice at a time.

    Decoding the whole file at once would keep every user's objects alive until the last one is
    read, which costs about 20 MB more with 100 000 users, and turning all its bytes into one
    string would cost four bytes a character as soon as one name has an emoji; decoding in
    slices lets each entry be converted and freed in turn. A slice of about ``slice_bytes``
    bytes is cut after a ``}`` followed by a comma (never inside a UTF-8 character: both are
    ASCII) and decoded as an object of its own. That decodes only when the cut is a real
    boundary between two entries: a cut inside a string leaves the string open, and a cut
    inside an entry leaves a brace unclosed, so neither is valid JSON. When a few cuts in a row
    do not decode, the rest is left to ``walk``, which goes on one value at a time and names
    where a damaged file goes wrong.
    """
    end = len(data)
    at = _skip_space(data, 0)
    if at == end or data[at] != ord("{"):
        data[:64].decode("utf-8")  # a file that is not text at all says so
        raise Invalid("it must hold a JSON object of users")
    at = _skip_space(data, at + 1)
    after_comma = False
    while at + slice_bytes < end:
        part = None
        cut = _ENTRY_END.search(data, at + slice_bytes)
        for _ in range(3):  # a "}," inside a string is not a boundary: try the next one
            if cut is None:
                break
            try:
                part = DECODER.decode("{" + data[at : cut.start() + 1].decode("utf-8") + "}")
                break
            except (json.JSONDecodeError, Invalid):
                cut = _ENTRY_END.search(data, cut.end())
        if part is None or cut is None:
            break  # the end is near, or the file is damaged here: the walk finds out which
        yield from part.items()
        at = _skip_space(data, cut.end())
        after_comma = True
    yield from walk(data[at:].decode("utf-8"), 0, after_comma, at)


def walk(text: str, at: int, after_comma: bool, offset: int = 0) -> Iterator[tuple[str, Any]]:
    """The pairs from ``at`` to the end, one value at a time. ``at`` is a key, or the closing
    brace of an empty object (not after a comma: JSON has no trailing commas). ``offset``: the
    byte where ``text`` starts in the file, for the messages."""
    end = len(text)

    def near(at: int) -> str:
        return f"near byte {offset + len(text[:at].encode('utf-8', 'surrogatepass'))}"

    if at < end and text[at] == "}" and not after_comma:
        if _skip_text_space(text, at + 1) != end:
            raise Invalid(f"it is not valid JSON (extra data {near(at + 1)})")
        return
    while True:
        if at >= end or text[at] != '"':
            raise Invalid(f"it is not valid JSON (a key was expected {near(at)})")
        key, at = DECODER.raw_decode(text, at)
        at = _skip_text_space(text, at)
        if at >= end or text[at] != ":":
            raise Invalid(f"it is not valid JSON (':' was expected {near(at)})")
        at = _skip_text_space(text, at + 1)
        value, at = DECODER.raw_decode(text, at)
        yield key, value
        at = _skip_text_space(text, at)
        if at < end and text[at] == ",":
            at = _skip_text_space(text, at + 1)
            continue
        if at < end and text[at] == "}":
            break
        raise Invalid(f"it is not valid JSON (',' or '}}' was expected {near(at)})")
    if _skip_text_space(text, at + 1) != end:
        raise Invalid(f"it is not valid JSON (extra data {near(at + 1)})")


def parse(data: bytes) -> Contents:
    """The contents of a data.json, with the cyclic garbage collector paused.

    Building 100 000 accounts creates hundreds of thousands of objects that all stay alive, and
    the collector would walk them again and again for nothing: pausing it saves about 0.1 s of
    the 0.6 s such a file takes. Nothing built here forms reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(data.removeprefix(b"\xef\xbb\xbf"))  # a BOM some editors add
    except RecursionError:
        raise Invalid("it is nested too deeply") from None
    except (ValueError, UnicodeError) as exc:  # also the interpreter's limit on digits
        raise Invalid(f"it is not valid JSON ({exc})") from exc
    finally:
        if was_enabled:
            gc.enable()


def _parse(data: bytes) -> Contents:
    contents = Contents()
    document: dict[str, Any] = {}
    check_texts = _SURROGATE_ESCAPE.search(data) is not None
    for key, entry in top_level_pairs(data):
        if key in document or key in contents.top_extra:
            raise Invalid(f"the key {key!r} appears twice")
        if key == GLOBAL:
            document[GLOBAL] = entry
        elif (key.isdigit() and key.isascii() and key[0] != "0" and len(key) < 20) or is_user_key(
            key
        ):
            fields, extra = read_entry(key, entry, check_texts)
            if key in contents.accounts:
                raise Invalid(f"user {key} appears twice")
            contents.accounts.read(key, fields)
            if extra:
                contents.extras[key] = extra
        elif key.lstrip("-").isdigit():
            raise Invalid(f"the user id {key[:40]!r} is not a plain number (ASCII digits)")
        else:
            try:
                check_text(key, "a key")
                check_value(entry, f"the key {key[:40]!r}")
            except Unwritable as exc:
                raise Invalid(str(exc)) from None
            contents.top_extra[key] = entry
    if GLOBAL in document:
        totals = document[GLOBAL]
        if not isinstance(totals, dict):
            raise Invalid(f"'global' must be an object, found {totals!r}")
        where = "'global'"
        contents.totals = Totals(
            requests=whole_number(totals, "requests", where, 0),
            tokens=whole_number(totals, "tokens", where, 0),
        )
        contents.global_extra = {k: v for k, v in totals.items() if k not in _KNOWN}
        try:
            check_value(contents.global_extra, where)
        except Unwritable as exc:
            raise Invalid(str(exc)) from None
    else:
        # The totals are a sum over users; rebuilding them loses nothing.
        log.warning("data file has no 'global' entry; rebuilding the totals from the users")
        contents.totals = Totals(
            requests=sum(a.requests for a in contents.accounts.values()),
            tokens=sum(a.tokens for a in contents.accounts.values()),
        )
        try:
            check_totals(contents.totals)
        except Unwritable as exc:
            raise Invalid(str(exc)) from None
    return contents


# One encoder for every line: ``json.dumps`` with an option builds a new one per call, which
# is about a third of writing a journal record or a data.json line. Encoding keeps no state
# between calls, so the snapshot's thread and the event loop can share it.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def text_accounts_file(path: Path) -> Path:
    """Where the accounts with text ids of the data file ``path`` are kept."""
    return path.with_name(path.stem + ".matrix.json")


def is_text_key(key: str) -> bool:
    return key[:1] == "@"


def parse_text_accounts(data: bytes, into: Contents) -> None:
    """The accounts of a ``text_accounts_file`` put into ``into``: each wins over the same id
    in data.json (this file is written first, from the same moment or a later one)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        return
    check_texts = _SURROGATE_ESCAPE.search(data) is not None
    seen: set[str] = set()
    try:
        for key, entry in top_level_pairs(data):
            if not is_text_key(key) or not is_user_key(key):
                raise Invalid(f"the key {key[:40]!r} is not a user id like @name:server")
            if key in seen:
                raise Invalid(f"user {key} appears twice")
            seen.add(key)
            account, extra = read_account(key, entry, check_texts)
            into.accounts[key] = account
            into.extras.pop(key, None)
            if extra:
                into.extras[key] = extra
    except RecursionError:
        raise Invalid("it is nested too deeply") from None
    except (ValueError, UnicodeError) as exc:
        raise Invalid(f"it is not valid JSON ({exc})") from exc


def split_text_accounts(contents: Contents) -> tuple[Contents, Contents]:
    """What goes to data.json (everything but the accounts with text ids) and what goes to
    the ``text_accounts_file`` (those accounts only)."""
    if not any(is_text_key(key) for key in contents.accounts):
        return contents, Contents()
    kept, text = contents.accounts.parted(is_text_key)  # none built for it
    extras = {key: extra for key, extra in contents.extras.items() if key in text}
    return attrs.evolve(contents, accounts=kept), Contents(text, extras)


def serialize_text_accounts(text: Contents) -> Iterator[bytes]:
    """A ``text_accounts_file``: one line per user, like data.json, without ``global``."""
    lines = [
        f"{dumps(key)}: {dumps(write_entry(account, text.extras.get(key, {})))}"
        for key, account in text.accounts.each()
    ]
    yield ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def dumps(value: object) -> str:
    return _ENCODER.encode(value)


def totals_entry(totals: Totals, extra: dict[str, Any]) -> dict[str, Any]:
    return {"requests": totals.requests, "tokens": totals.tokens, **extra}


def serialize(contents: Contents, chunk_chars: int = 1 << 16) -> Iterator[bytes]:
    """data.json, one line per user, so the file stays readable and diffable; produced a chunk
    at a time, so writing it never holds a second copy of every account in memory."""
    lines = _lines(contents)
    buffer: list[str] = ["{\n", next(lines)]
    size = 0
    for line in lines:
        buffer.append(",\n")
        buffer.append(line)
        size += len(line)
        if size >= chunk_chars:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    buffer.append("\n}\n")
    yield "".join(buffer).encode("utf-8")


def _lines(contents: Contents) -> Iterator[str]:
    yield f'"{GLOBAL}": {dumps(totals_entry(contents.totals, contents.global_extra))}'
    for key, value in contents.top_extra.items():
        yield f"{dumps(key)}: {dumps(value)}"
    extras = contents.extras
    for user_id, account in contents.accounts.each():
        yield f'"{user_id}": {dumps(write_entry(account, extras.get(user_id, {})))}'


def joined(chunks: Iterable[bytes]) -> bytes:
    return b"".join(chunks)
