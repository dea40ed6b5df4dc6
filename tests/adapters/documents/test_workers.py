"""PDFs read by worker processes within limits: real hostile PDFs, real processes, real limits.

Each limit is tested alone, the others set far away, so that the test says which one stopped
the worker; none depends on how fast the machine is (the hostile PDF needs 27 s of processor
time and 290 MB, far past every limit set here).
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys

import pytest

from adapters.documents.reader import TextAndPdfReader
from adapters.documents.workers import PdfWorkers, ReadingLimits
from core.errors import UnreadableDocument
from tests.documents import hostile_pdf, line, text_pdf

pytestmark = pytest.mark.slow  # each test starts reader processes, some for seconds

FAR = 3_600  # seconds: a limit that never stops these tests
PLENTY = 4 * 1024**3  # bytes: an address space that never stops them either


async def refusal(workers: PdfWorkers, data: bytes) -> str:
    with pytest.raises(UnreadableDocument) as error:
        await workers.text(data)
    return error.value.reason


async def test_a_pdf_is_read_by_a_worker() -> None:
    workers = PdfWorkers()

    text = await workers.text(text_pdf(line("Hello from page one"), line("And page two")))

    assert text == "Hello from page one\n\nAnd page two"


async def test_a_hostile_pdf_is_stopped_by_its_processor_time() -> None:
    workers = PdfWorkers(ReadingLimits(cpu_seconds=1, memory_bytes=PLENTY, seconds=FAR))

    assert await refusal(workers, hostile_pdf()) == "too_complex"


async def test_a_hostile_pdf_is_stopped_by_its_memory() -> None:
    workers = PdfWorkers(ReadingLimits(cpu_seconds=FAR, memory_bytes=112 * 1024**2, seconds=FAR))

    assert await refusal(workers, hostile_pdf()) == "too_complex"


async def test_a_hostile_pdf_is_stopped_by_the_clock() -> None:
    workers = PdfWorkers(ReadingLimits(cpu_seconds=FAR, memory_bytes=PLENTY, seconds=1))

    assert await refusal(workers, hostile_pdf()) == "too_complex"


async def test_the_bot_does_not_pay_for_a_hostile_pdf() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    reader = TextAndPdfReader()  # as the bot builds it

    with pytest.raises(UnreadableDocument) as error:
        await reader.read(hostile_pdf(), name="hostile.pdf", mime="application/pdf")

    assert error.value.reason in {"too_complex", "busy"}
    after = resource.getrusage(resource.RUSAGE_SELF)
    # pypdf alone takes 290 MB and seconds on it; the bot only writes it to a pipe.
    assert after.ru_utime - before.ru_utime < 1.0


# In a process of its own: the children's peak this process sees would otherwise be that of
# any child an earlier test waited for (a PostgreSQL cluster, a homeserver).
_WORKER_PEAK = """
import asyncio, resource
from adapters.documents.reader import TextAndPdfReader
from core.errors import UnreadableDocument
from tests.documents import hostile_pdf
try:
    asyncio.run(TextAndPdfReader().read(hostile_pdf(), name="h.pdf", mime="application/pdf"))
except UnreadableDocument:
    pass
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_the_reader_process_stays_in_its_bounds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_PEAK], capture_output=True, text=True, check=True
    )
    assert int(done.stdout.split()[-1]) < 300 * 1024  # kilobytes


async def test_files_wait_for_a_turn_and_are_refused_when_none_comes_in_time() -> None:
    workers = PdfWorkers(ReadingLimits(at_once=1, cpu_seconds=FAR, memory_bytes=PLENTY, seconds=2))
    hostile = asyncio.create_task(workers.text(hostile_pdf()))
    await asyncio.sleep(0)  # it takes the only turn
    plain = text_pdf(line("I wait my turn"))

    reason = await refusal(workers, plain)
    with pytest.raises(UnreadableDocument):
        await hostile

    # The plain file waited for the hostile one, which used all of their time: no text.
    assert reason in {"busy", "too_complex"}
    assert await PdfWorkers().text(plain) == "I wait my turn"


async def test_only_the_first_pages_are_read_and_the_text_says_so() -> None:
    workers = PdfWorkers(ReadingLimits(pages=2))
    pdf = text_pdf(*(line(f"Page {n}") for n in range(1, 6)))

    text = await workers.text(pdf)

    assert text.startswith("Page 1\n\nPage 2\n\n[Only pages 1-2 of 5 were read")
    assert "Page 3" not in text


async def test_the_text_is_cut_to_its_limit() -> None:
    workers = PdfWorkers(ReadingLimits(chars=12))

    text = await workers.text(text_pdf(line("x" * 40), line("y" * 40)))

    assert text.startswith("x" * 12 + "\n\n[Only pages 1-1 of 2")


async def test_a_refused_pdf_keeps_its_reason_through_the_worker() -> None:
    reader = TextAndPdfReader()

    with pytest.raises(UnreadableDocument) as error:
        await reader.read(b"%PDF-1.7\n" + bytes(range(256)) * 4, name="x.pdf", mime=None)

    assert error.value.reason == "damaged"
