"""PDFs read in a separate process each, within limits the kernel enforces.

A PDF of a few kilobytes can make pypdf work for half a minute and take hundreds of megabytes
(a content stream of a million tiny text operations compresses to 10 KB). Read in the bot's
own process, a few such files at once would take the bot down with them. So each PDF is read
by a fresh interpreter (``adapters.documents.worker``) that limits its own address space and
processor time before it reads the file, with no secrets in its environment; the bot kills it
when the file's time is up, and reads at most ``at_once`` files together: the others wait
their turn within that same time, and are refused when it runs out.

A fresh process per file rather than a pool: a pool's worker would carry the processor time of
earlier files against its limit, and killing one breaks the whole pool. Starting Python and
pypdf costs about a tenth of a second, next to the seconds a PDF takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from pathlib import Path

import attrs

from core.errors import UnreadableDocument

log = logging.getLogger(__name__)

# Where the ``adapters`` package is, for the worker's import path (an editable install too).
_ROOT = str(Path(__file__).resolve().parents[2])


@attrs.frozen
class ReadingLimits:
    """What reading one PDF may take."""

    pages: int = 300  # pages read; the text says when there were more
    chars: int = 1_000_000  # characters kept (the core cuts to the prompt's budget anyway)
    # The worker's address space, Python's own (about 80 MB with pypdf) included: a 300-page
    # text PDF of 1.5 MB takes 50 MB of it.
    memory_bytes: int = 128 * 1024 * 1024
    cpu_seconds: int = 3  # the worker's processor time
    # From the request to the text, waiting for a turn included; less than the 10 s promised,
    # for the kill and the reply.
    seconds: float = 9.0
    at_once: int = 2  # files read together


@attrs.define
class PdfWorkers:
    """The text of PDFs, each read by a worker process within ``limits``."""

    limits: ReadingLimits = attrs.field(factory=ReadingLimits)
    _turns: asyncio.Semaphore = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._turns = asyncio.Semaphore(self.limits.at_once)

    async def text(self, data: bytes) -> str:
        """The PDF's text, a blank line between pages. ``UnreadableDocument``: ``"busy"``
        when no turn came in time, ``"too_complex"`` when the worker was stopped by a limit
        before any text, or the worker's own reason."""
        deadline = asyncio.get_running_loop().time() + self.limits.seconds
        try:
            async with asyncio.timeout_at(deadline):
                await self._turns.acquire()
        except TimeoutError:
            raise UnreadableDocument("busy", "no turn to read a PDF in time") from None
        try:
            return await self._read(data, deadline)
        finally:
            self._turns.release()

    async def _read(self, data: bytes, deadline: float) -> str:
        limits = self.limits
        try:
            worker = await self._start()
        except OSError as exc:  # no process to be had now (a limit of the machine's)
            log.error("could not start a PDF reader: %r", exc)
            raise UnreadableDocument("busy", f"no reader process: {exc!r}") from exc
        assert worker.stdin is not None
        assert worker.stdout is not None
        pages: list[str] = []
        total: int | None = None
        finished = False
        try:
            async with asyncio.timeout_at(deadline):
                worker.stdin.write(data)
                with contextlib.suppress(ConnectionError):  # it died before reading it all
                    await worker.stdin.drain()
                    worker.stdin.close()
                while line := await worker.stdout.readline():
                    item = json.loads(line)
                    if "error" in item:
                        raise UnreadableDocument(str(item["error"]), str(item.get("detail", "")))
                    if "pages" in item:
                        total = int(item["pages"])
                    elif "text" in item:
                        pages.append(str(item["text"]))
                    elif item.get("done"):
                        finished = True
        except TimeoutError:
            log.info("a PDF took more than %s s: its reader was stopped", limits.seconds)
        except (ValueError, asyncio.LimitOverrunError) as exc:  # not what the worker writes
            log.warning("the PDF reader wrote something unexpected: %r", exc)
        finally:
            if worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.kill()
            await worker.wait()
        return _joined(pages, total, finished, worker.returncode, limits)

    async def _start(self) -> asyncio.subprocess.Process:
        """A worker for one file, its limits on its command line."""
        limits = self.limits
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",  # nothing imported from the working directory
            "-m",
            "adapters.documents.worker",
            *(
                str(n)
                for n in (limits.pages, limits.chars, limits.memory_bytes, limits.cpu_seconds)
            ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={"PYTHONPATH": _ROOT, "PYTHONDONTWRITEBYTECODE": "1"},
            # A line is a page's text, \u-escaped: at most twelve bytes a character (a pair of
            # surrogates for one outside the BMP).
            limit=12 * limits.chars + 65_536,
        )


def _joined(
    pages: list[str], total: int | None, finished: bool, code: int | None, limits: ReadingLimits
) -> str:
    text = "\n\n".join(page for page in pages if page)[: limits.chars]
    if not finished and code is not None and code > 0:
        # Not stopped by a signal (a limit, or the bot's kill): the reader failed on its own, a
        # bug or memory running out where pypdf does not expect it. Still a refusal.
        log.warning("the PDF reader failed (exit %s) after %d of %s pages", code, len(pages), total)
    elif not finished:
        log.info("a PDF reader stopped (exit %s) after %d of %s pages", code, len(pages), total)
    if not finished:
        if not text:
            raise UnreadableDocument("too_complex", "stopped by a limit before any text")
    elif not text:
        raise UnreadableDocument("empty", "no text in the PDF (a scan?)")
    if total is not None and len(pages) < total:
        # Said to the model, which can tell the person that it saw only a part.
        text += (
            f"\n\n[Only pages 1-{len(pages)} of {total} were read: the rest is past what the "
            "bot reads of one file.]"
        )
    return text
