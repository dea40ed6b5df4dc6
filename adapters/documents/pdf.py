"""The text of a PDF, page by page, through pypdf. Runs only inside the reading worker
(``adapters.documents.worker``): a hostile PDF can make pypdf work for minutes and take
gigabytes, which the worker's limits bound and the bot's own process never sees.

pypdf is pure Python and actively maintained, so it installs wherever the bot does. pypdfium2
(Google's PDFium) extracts better from odd PDFs but ships a 3 MB native library per platform;
pdfminer.six is slower and heavier for plain text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

from core.errors import UnreadableDocument

log = logging.getLogger(__name__)


def pdf_pages(data: bytes, max_pages: int) -> Iterator[int | str]:
    """The number of pages, then the text of each of the first ``max_pages`` pages.
    ``UnreadableDocument`` when the PDF cannot be read at all."""
    # Imported here: only a worker that is given a PDF pays for loading it.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument("protected", "the PDF is protected by a password")
        yield len(reader.pages)
        for number, page in enumerate(reader.pages):
            if number >= max_pages:
                return
            yield (page.extract_text() or "").strip()
    except UnreadableDocument:
        raise
    except MemoryError:
        raise UnreadableDocument("too_complex", "the PDF needs more memory than allowed") from None
    except LimitReachedError as exc:  # pypdf's own bounds on what a file may make it do
        raise UnreadableDocument("too_complex", f"pypdf's limit: {exc}") from exc
    except DependencyError as exc:  # AES encryption needs the cryptography package
        raise UnreadableDocument("unsupported", f"an encrypted PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises many kinds on a damaged file; all mean the same
        log.info("unreadable PDF: %r", exc)
        raise UnreadableDocument("damaged", f"the PDF does not parse: {exc!r}") from exc
