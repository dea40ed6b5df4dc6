"""Files read as text: text-like files by their name or type, PDF through pypdf.

pypdf is pure Python and actively maintained, so it installs wherever the bot does. pypdfium2
(Google's PDFium) extracts better from odd PDFs but ships a 3 MB native library per platform;
pdfminer.six is slower and heavier for plain text. Parsing a PDF is CPU work: it runs in a
worker thread so the other chats go on meanwhile.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import logging
from pathlib import PurePath

import attrs

from core.errors import UnreadableDocument

log = logging.getLogger(__name__)

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


@attrs.frozen
class TextAndPdfReader:
    """Implements ``core.ports.DocumentReader``.

    ``max_chars`` stops a small compressed PDF from unfolding into more text than any prompt
    could take (the core cuts the text to the budget anyway).
    """

    max_chars: int = 2_000_000

    async def read(self, data: bytes, *, name: str | None, mime: str | None) -> str:
        kind = document_kind(data, name, mime)
        if kind == "pdf":
            return await asyncio.to_thread(pdf_text, data, self.max_chars)
        if kind == "text":
            return decode_text(data)[: self.max_chars]
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


def pdf_text(data: bytes, max_chars: int) -> str:
    """The text of a PDF's pages, a blank line between pages (runs in a worker thread)."""
    # Imported here: only a bot that is sent a PDF pays for loading it.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("protected", "the PDF is protected by a password")
        pages: list[str] = []
        length = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text.strip())
            length += len(text)
            if length >= max_chars:
                break
    except UnreadableDocument:
        raise
    except DependencyError as exc:  # AES encryption needs the cryptography package
        raise UnreadableDocument("unsupported", f"an encrypted PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds on a damaged file; all mean the same
        log.info("unreadable PDF: %r", exc)
        raise UnreadableDocument("damaged", f"the PDF does not parse: {exc!r}") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise UnreadableDocument("empty", "no text in the PDF (a scan?)")
    return text[:max_chars]
