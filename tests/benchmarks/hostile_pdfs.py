"""Eight people send the same hostile PDF at once: what the bot's process and its readers take.

``python -m tests.benchmarks.hostile_pdfs`` reads ``--copies`` (8) copies of the tests'
hostile PDF (10 KB; pypdf alone needs about 27 s of processor time and 290 MB for it) at once
through the document reader the bot uses, with its default limits, and prints for each copy
whether it was read or refused and after how long, then the peak resident memory of this
process (the bot's: Linux's VmHWM) and the peak of this process and its live reader processes
together (sampled every 20 ms from /proc). ``--in-process`` reads them as the bot did before
the readers had processes of their own (pypdf in threads of the bot), for comparison: expect
minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import time
from pathlib import Path

from adapters.documents.reader import TextAndPdfReader
from core.errors import UnreadableDocument
from tests.documents import hostile_pdf


def _kilobytes(status: Path, field: str) -> int:
    try:
        text = status.read_text()
    except OSError:  # the process ended meanwhile
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _with_children_kb() -> int:
    """Resident memory of this process and its children now."""
    me = os.getpid()
    total = _kilobytes(Path("/proc/self/status"), "VmRSS")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == me:
                total += _kilobytes(entry / "status", "VmRSS")
    return total


def _in_process(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)


async def one(reader: TextAndPdfReader, data: bytes, in_process: bool) -> tuple[str, float]:
    started = time.monotonic()
    try:
        if in_process:
            text = await asyncio.to_thread(_in_process, data)
        else:
            text = await reader.read(data, name="hostile.pdf", mime="application/pdf")
        outcome = f"read, {len(text):,} characters"
    except UnreadableDocument as exc:
        outcome = f"refused ({exc.reason})"
    except Exception as exc:
        outcome = f"failed ({type(exc).__name__})"
    return outcome, time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    data = hostile_pdf()
    reader = TextAndPdfReader()
    peak = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, await asyncio.to_thread(_with_children_kb))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    results = await asyncio.gather(
        *(one(reader, data, args.in_process) for _ in range(args.copies))
    )
    done.set()
    await sampler
    print(f"{args.copies} copies of a {len(data):,}-byte hostile PDF, read at once")
    print(f"CPUs: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for number, (outcome, seconds) in enumerate(results, 1):
        print(f"  copy {number}: {outcome} after {seconds:.1f} s")
    print(f"all answered after {time.monotonic() - started:.1f} s")
    bot = _kilobytes(Path("/proc/self/status"), "VmHWM")
    print(f"peak RSS of the bot's process: {bot / 1024:.0f} MB")
    print(f"peak RSS of the bot and its readers together: {peak / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
