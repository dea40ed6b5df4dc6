"""The core knows no messenger: no platform's names or addressing syntax in its code."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
# A mention or a command target ("@{bot}", "/cmd@bot") in a string, or a platform's name.
_SYNTAX = re.compile(r"@[{(\w]|/\w+@")
_PLATFORMS = re.compile(r"telegram|telethon|whatsapp|discord|slack|matrix", re.IGNORECASE)


def _code_tokens(path: Path) -> list[tokenize.TokenInfo]:
    """The tokens of ``path`` that are code: strings other than docstrings, and names."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    kept = []
    for index, token in enumerate(tokens):
        if token.type == tokenize.STRING:
            before = [t for t in tokens[:index] if t.type not in {tokenize.NL, tokenize.COMMENT}]
            docstring = not before or before[-1].type in {tokenize.INDENT, tokenize.NEWLINE}
            if not docstring:
                kept.append(token)
        elif token.type == tokenize.NAME:
            kept.append(token)
    return kept


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_no_messenger_syntax_or_names_in_the_core(path: Path) -> None:
    for token in _code_tokens(path):
        assert not _SYNTAX.search(token.string), f"{path.name}:{token.start[0]} {token.string}"
        assert not _PLATFORMS.search(token.string), f"{path.name}:{token.start[0]} {token.string}"
        assert token.string.lower() != "mention", f"{path.name}:{token.start[0]}"
