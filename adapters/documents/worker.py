"""The process that reads one PDF: ``python -P -m adapters.documents.worker PAGES CHARS
MEMORY CPU``, the PDF on standard input, JSON lines on standard output.

Its limits are set on itself before it reads a byte of the file: address space (``MEMORY``
bytes: pypdf's allocations fail with MemoryError past it), processor time (``CPU`` seconds:
the kernel ends it with SIGXCPU), no files written, no core dumps. The bot also kills it when
its time is up; this process only has to stay inside the limits it is given.

Lines written, each flushed (what was read before a limit stopped it is kept):
``{"pages": N}`` once, then ``{"text": "..."}`` per page, then ``{"done": true}``, or
``{"error": REASON, "detail": "..."}`` with a reason of ``core.errors.UnreadableDocument``.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from typing import BinaryIO


def limit_self(memory: int, cpu: int) -> None:
    """Bound this process: what the kernel enforces, whatever the file makes the code do."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # its output is a pipe, no file
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def write(out: BinaryIO, line: dict[str, object]) -> None:
    out.write(json.dumps(line).encode("ascii") + b"\n")  # \u escapes: lone surrogates too
    out.flush()


def main(argv: list[str]) -> int:
    pages, chars, memory, cpu = (int(value) for value in argv)
    limit_self(memory, cpu)
    # pypdf warns about every oddity of a damaged file: nobody reads them here.
    logging.disable(logging.CRITICAL)
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    # Imported after the limits: its loading counts against them too.
    from adapters.documents.pdf import pdf_pages
    from core.errors import UnreadableDocument

    try:
        left = chars
        for item in pdf_pages(data, pages):
            if isinstance(item, int):
                write(out, {"pages": item})
                continue
            write(out, {"text": item[:left]})
            left -= len(item)
            if left <= 0:
                break
    except UnreadableDocument as exc:
        write(out, {"error": exc.reason, "detail": str(exc)})
        return 0
    write(out, {"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
