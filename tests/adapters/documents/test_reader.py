"""Files read as text: real files written by the tests, real PDFs read by pypdf."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest
from pypdf import PdfWriter

from adapters.documents.reader import TextAndPdfReader
from core.errors import UnreadableDocument
from core.ports import DocumentReader

TEXT = "Привет, world: naïve café ✓\nsecond line\n"


def handmade_pdf(*pages: str) -> bytes:
    """A minimal valid PDF with one text line per page, offsets and all, written by hand."""
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * n) for n in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, text in enumerate(pages):
        content = b"BT /F1 18 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * n)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


async def read_file(path: Path, mime: str | None = None) -> str:
    reader: DocumentReader = TextAndPdfReader()  # mypy checks that it fits the port
    return await reader.read(path.read_bytes(), name=path.name, mime=mime)


async def reason(path: Path, mime: str | None = None) -> str:
    with pytest.raises(UnreadableDocument) as error:
        await read_file(path, mime)
    return error.value.reason


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("notes.txt", TEXT.encode("utf-8")),
        ("notes.md", codecs.BOM_UTF8 + TEXT.encode("utf-8")),
        ("data.csv", codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le")),
        ("data.json", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")),
        ("script.py", codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le")),
        ("windows.ini", TEXT.replace("\n", "\r\n").encode("utf-8")),
        ("Makefile", TEXT.encode("utf-8")),
    ],
)
async def test_text_files_in_every_encoding_with_a_mark(
    tmp_path: Path, name: str, encoded: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(encoded)

    assert await read_file(path) == TEXT


async def test_the_type_alone_makes_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "no-suffix"
    path.write_text("plain words", encoding="utf-8")

    assert await read_file(path, "text/plain; charset=utf-8") == "plain words"
    assert await reason(path) == "unsupported"


async def test_binary_content_under_a_text_name_is_not_text(tmp_path: Path) -> None:
    png = tmp_path / "picture.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café crème".encode("latin-1"))  # not UTF-8, and no mark says what
    controls = tmp_path / "controls.log"
    controls.write_bytes(b"\x01\x02\x03\x04 some \x05\x06 words\x07\x08")
    utf16_without_mark = tmp_path / "wide.txt"
    utf16_without_mark.write_bytes(TEXT.encode("utf-16-le"))

    for path in (png, latin, controls, utf16_without_mark):
        assert await reason(path) == "not_text", path.name


async def test_an_empty_file_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_bytes(codecs.BOM_UTF8 + b" \n\t\n")

    assert await reason(path) == "empty"


async def test_other_files_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(100))

    assert await reason(path) == "unsupported"
    assert await reason(path, "application/zip") == "unsupported"


async def test_a_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(handmade_pdf("Hello from page one", "And page two"))

    assert await read_file(path) == "Hello from page one\n\nAnd page two"
    # Known by its content too, whatever it is called.
    renamed = tmp_path / "report.bin"
    renamed.write_bytes(path.read_bytes())
    assert await read_file(renamed) == "Hello from page one\n\nAnd page two"


@pytest.mark.parametrize("keep", [0.5, 0.95])
async def test_a_truncated_pdf_is_damaged(tmp_path: Path, keep: float) -> None:
    whole = handmade_pdf("Hello from page one")
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[: int(len(whole) * keep)])

    assert await reason(path) == "damaged"


async def test_a_pdf_of_garbage_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)

    assert await reason(path, "application/pdf") == "damaged"


async def test_a_pdf_without_text_is_empty(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "scan.pdf"
    path.write_bytes(out.getvalue())

    assert await reason(path) == "empty"


async def test_a_pdf_with_a_password_is_protected(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "locked.pdf"
    path.write_bytes(out.getvalue())

    assert await reason(path) == "protected"
