"""PDFs made by the tests: plain ones, and hostile ones that make a PDF reader work hard.

The hostile PDF is small and valid: one page whose compressed content stream holds a million
tiny text operations (``(a) Tj``). It is 10 KB; pypdf 7 takes about 27 s of processor time and
290 MB to extract its text (measured on the development machine), under the token limit pypdf
sets itself for a stream.
"""

from __future__ import annotations

import zlib

# Text operations in the hostile page: below pypdf's 2 000 000 tokens a stream, so pypdf does
# not refuse it early but works through every one.
HOSTILE_OPERATIONS = 950_000


def pdf_of(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalogue), offsets and all."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_pdf(*pages: bytes, compress: bool = False) -> bytes:
    """A PDF with one content stream per page (``BT ... ET`` operations)."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * n) for n in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, content in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * n)
        )
        data, flate = (
            (zlib.compress(content, 9), b" /Filter /FlateDecode")
            if compress
            else (
                content,
                b"",
            )
        )
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(data), flate) + data + b"\nendstream")
    return pdf_of(objects)


def line(text: str) -> bytes:
    """A page's content stream showing ``text`` (Latin-1) on one line."""
    return b"BT /F1 18 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"


def hostile_pdf() -> bytes:
    """About 10 KB that cost pypdf tens of seconds and hundreds of megabytes."""
    return text_pdf(b"BT /F1 1 Tf " + b"(a) Tj " * HOSTILE_OPERATIONS + b"ET", compress=True)
