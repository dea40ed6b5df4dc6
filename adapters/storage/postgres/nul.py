"""Text with NUL in PostgreSQL: every string is escaped on its way in, unescaped on its way out.

PostgreSQL's text refuses the NUL character, while a message, a name or a model's answer may
hold one (a broken client, a pasted binary, a model told to print one). Refusing it cost a
person's reply chain, or their registration on every try; dropping it at the core's edge would
change what they wrote, and would not cover a model's answer. So every store keeps any text
as it was given, as data.json and SQLite do.

The escape is U+FFFF, a noncharacter (Unicode keeps it for a program's internal use; it is
not in text people send): NUL is stored as U+FFFF "0", U+FFFF itself as two of them. Text
with neither (nearly all, and all written before this) is stored unchanged. It is installed
as psycopg's dumper and loader on each connection, so no query can forget it: ids, names,
prompts and reply chains alike, and the arrays of the batched statements.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.adapt import Buffer
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown, TextBinaryLoader, TextLoader

MARK = "\uffff"
_ESCAPED = re.compile(f"{MARK}(.)", re.DOTALL)


def escape(text: str) -> str:
    if "\0" not in text and MARK not in text:
        return text
    return text.replace(MARK, MARK + MARK).replace("\0", MARK + "0")


def unescape(text: str) -> str:
    if MARK not in text:
        return text
    return _ESCAPED.sub(lambda found: "\0" if found[1] == "0" else found[1], text)


class _Dumper(StrDumperUnknown):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape(obj))


class _BinaryDumper(StrBinaryDumper):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape(obj))


class _Loader(TextLoader):
    def load(self, data: Buffer) -> bytes | str:
        text = super().load(data)
        return unescape(text) if isinstance(text, str) else text


class _BinaryLoader(TextBinaryLoader):
    def load(self, data: Buffer) -> bytes | str:
        text = super().load(data)
        return unescape(text) if isinstance(text, str) else text


def install(connection: psycopg.AsyncConnection[Any]) -> None:
    """Escape and unescape the text of ``connection`` from now on."""
    adapters = connection.adapters
    # In psycopg's own order: a string's format left to psycopg is the text one.
    adapters.register_dumper(str, _BinaryDumper)
    adapters.register_dumper(str, _Dumper)
    for type_name in ("text", "varchar"):
        adapters.register_loader(type_name, _Loader)
        adapters.register_loader(type_name, _BinaryLoader)
