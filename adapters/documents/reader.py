"""Files read as text: text-like files by their name or type, PDF through pypdf in a worker
process (``adapters.documents.workers``: a hostile PDF is bounded there, not in the bot).
"""

from __future__ import annotations

import codecs
from pathlib import PurePath

import attrs

from adapters.documents.workers import PdfWorkers, ReadingLimits
from core.errors import UnreadableDocument

# Source code, data and markup people paste as files. Lower case, with the dot.
_SUFFIXES = """
    .txt .text .md .markdown .rst .org .tex .csv .tsv .json .jsonl .ndjson .yaml .yml .toml
    .xml .html .htm .css .scss .less .svg .ini .cfg .conf .env .properties .log .sql .graphql
    .py .pyi .ipynb .js .mjs .cjs .jsx .ts .tsx .vue .svelte .c .h .cc .cpp .cxx .hpp .hh .cs
    .java .kt .kts .scala .groovy .go .rs .rb .php .pl .pm .lua .r .jl .swift .m .mm .dart
    .hs .ml .ex .exs .erl .clj .el .lisp .scm .sh .bash .zsh .fish .ps1 .bat .cmd .vim
    .dockerfile .mk .cmake .gradle .tf .proto .srt .vtt .diff .patch .bib .gitignore
"""
TEXT_SUFFIXES = frozenset(_SUFFIXES.split())
TEXT_NAMES = frozenset(
    {"makefile", "dockerfile", "readme", "license", "changelog", "gemfile", "procfile"}
)
# Types that are text under another top-level name.
TEXT_MIMES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-javascript",
        "application/x-sh",
        "application/x-python",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/sql",
        "application/x-httpd-php",
        "application/ld+json",
        "image/svg+xml",
    }
)
PDF_MIME = "application/pdf"
# Byte order marks, longest first: UTF-32's starts like UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control characters besides tab, new line, form feed and carriage return: in a text file there
# are next to none; in binary data that happens to decode, many.
_CONTROL = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\x0c\r") | {"\x7f"}
_MOST_CONTROL = 0.01


@attrs.define
class TextAndPdfReader:
    """Implements ``core.ports.DocumentReader``.

    ``limits.chars`` also bounds a text file's text (the core cuts it to the budget anyway)."""

    limits: ReadingLimits = attrs.field(factory=ReadingLimits)
    _pdf: PdfWorkers = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._pdf = PdfWorkers(self.limits)

    async def read(self, data: bytes, *, name: str | None, mime: str | None) -> str:
        kind = document_kind(data, name, mime)
        if kind == "pdf":
            return await self._pdf.text(data)
        if kind == "text":
            return decode_text(data)[: self.limits.chars]
        raise UnreadableDocument("unsupported", f"not a text file or a PDF: {name!r}, {mime!r}")


def document_kind(data: bytes, name: str | None, mime: str | None) -> str | None:
    """ "pdf", "text" or None (a file this reader does not read)."""
    path = PurePath(name or "")
    suffix, mime = path.suffix.lower(), (mime or "").split(";")[0].strip().lower()
    if suffix == ".pdf" or mime == PDF_MIME or data.startswith(b"%PDF-"):
        return "pdf"
    if (
        suffix in TEXT_SUFFIXES
        or path.name.lower() in TEXT_NAMES
        or mime.startswith("text/")
        or mime in TEXT_MIMES
    ):
        return "text"
    return None


def decode_text(data: bytes) -> str:
    """A text file's text: UTF-8, or UTF-16/32 when a byte order mark says so; line ends made
    \\n. ``UnreadableDocument("not_text")`` for binary content, ``"empty"`` for no text."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, data = name, data[len(bom) :]
            break
    if encoding == "utf-8" and b"\x00" in data:
        raise UnreadableDocument("not_text", "NUL bytes: binary data, or UTF-16 without a BOM")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableDocument("not_text", f"not {encoding}: {exc}") from None
    if sum(1 for char in text if char in _CONTROL) > _MOST_CONTROL * len(text):
        raise UnreadableDocument("not_text", "control characters: binary data")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UnreadableDocument("empty", "the file holds no text")
    return text
