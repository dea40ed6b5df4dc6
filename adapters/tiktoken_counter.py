"""Exact token counts for OpenAI models, when the optional ``tiktoken`` package can provide them.

tiktoken downloads each encoding's tables on first use (and caches them). Without the package,
for a model it does not know, or when the tables cannot be had in time, counting falls back to
``core.tokens.CharTokenCounter``, which over-counts but never needs a file.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from core.ports import TokenCounter
from core.tokens import CharTokenCounter

if TYPE_CHECKING:
    import tiktoken

log = logging.getLogger(__name__)

# tiktoken fetches the tables with no timeout of its own; a network that drops packets would
# otherwise hold the bot's start for as long as the operating system lets a connection hang.
LOAD_TIMEOUT = 10.0

_FALLBACK = "counting tokens with the character heuristic instead"


class TiktokenCounter:
    """Counts with the model's own tokenizer."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding

    def __repr__(self) -> str:
        return f"TiktokenCounter({self._encoding.name!r})"

    def count(self, text: str) -> int:
        # A user may well type "<|endoftext|>": it is text to count, not a reason to fail.
        return len(self._encoding.encode(text, disallowed_special=()))


def token_counter_for(model: str, *, load_timeout: float = LOAD_TIMEOUT) -> TokenCounter:
    """The exact counter for ``model`` if tiktoken can give it, else the character heuristic."""
    try:
        import tiktoken
    except ImportError:
        log.info("tiktoken is not installed; %s", _FALLBACK)
        return CharTokenCounter()
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        # Another family's tokenizer may split text into more tokens than OpenAI's would, and an
        # estimate must never be below the truth.
        log.info("tiktoken does not know the model %r; %s", model, _FALLBACK)
        return CharTokenCounter()
    encoding = _load(name, load_timeout)
    if encoding is None:
        return CharTokenCounter()
    log.info("counting tokens with tiktoken's %s encoding", name)
    return TiktokenCounter(encoding)


def _load(name: str, timeout: float) -> tiktoken.Encoding | None:
    import tiktoken

    result: list[tiktoken.Encoding] = []
    failure: list[Exception] = []

    def load() -> None:
        try:
            result.append(tiktoken.get_encoding(name))
        except Exception as exc:  # any failure means the same: no tables, use the fallback
            failure.append(exc)

    # A daemon thread: if the download hangs, it must not keep the process from exiting.
    thread = threading.Thread(target=load, name=f"tiktoken-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if result:
        return result[0]
    reason = repr(failure[0]) if failure else f"no answer within {timeout:g} s"
    log.warning("could not load tiktoken's %s encoding (%s); %s", name, reason, _FALLBACK)
    return None
