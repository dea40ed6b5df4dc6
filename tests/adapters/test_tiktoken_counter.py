"""The tiktoken counter and its fallback; no test here lets tiktoken reach the network."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from adapters.tiktoken_counter import TiktokenCounter, token_counter_for
from core.tokens import CharTokenCounter

if TYPE_CHECKING:
    import tiktoken

LOGGER = "adapters.tiktoken_counter"


@pytest.fixture
def tk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """tiktoken, with any attempt to fetch encoding tables refused and reported at teardown."""
    module = pytest.importorskip("tiktoken")
    fetched: list[str] = []

    def no_download(name: str) -> None:
        fetched.append(name)
        raise ConnectionError("tests do not download tiktoken tables")

    monkeypatch.setattr(module, "get_encoding", no_download)
    yield module
    assert not fetched, f"the test tried to fetch tiktoken's {fetched} tables"


def tiny_encoding(tk: Any) -> tiktoken.Encoding:
    """A real tiktoken encoding over single bytes, with one merge and one special token."""
    ranks = {bytes([i]): i for i in range(256)}
    ranks[b"ab"] = 256
    encoding: tiktoken.Encoding = tk.Encoding(
        name="tiny",
        pat_str=r"\S+|\s+",
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 257},
    )
    return encoding


def test_without_tiktoken_the_heuristic_counts_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # makes ``import tiktoken`` fail
    with caplog.at_level(logging.INFO, logger=LOGGER):
        counter = token_counter_for("gpt-4o")

    assert isinstance(counter, CharTokenCounter)
    assert "tiktoken is not installed" in caplog.text


def test_a_model_tiktoken_does_not_know_gets_the_heuristic(
    tk: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        counter = token_counter_for("llama-3.1-8b-instruct")

    assert isinstance(counter, CharTokenCounter)
    assert "does not know the model 'llama-3.1-8b-instruct'" in caplog.text


def test_tables_that_cannot_be_fetched_give_the_heuristic(
    tk: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def offline(name: str) -> None:
        raise ConnectionError(f"cannot fetch {name}")

    monkeypatch.setattr(tk, "get_encoding", offline)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        counter = token_counter_for("gpt-4o")

    assert isinstance(counter, CharTokenCounter)
    assert "cannot fetch o200k_base" in caplog.text


def test_tables_that_do_not_come_in_time_give_the_heuristic(
    tk: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def hanging(name: str) -> tiktoken.Encoding:
        release.wait(5)
        return tiny_encoding(tk)

    monkeypatch.setattr(tk, "get_encoding", hanging)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            counter = token_counter_for("gpt-4o", load_timeout=0.1)
    finally:
        release.set()

    assert isinstance(counter, CharTokenCounter)
    assert "no answer within 0.1 s" in caplog.text


def test_loaded_tables_count_exactly(tk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def loaded(name: str) -> tiktoken.Encoding:
        asked.append(name)
        return tiny_encoding(tk)

    monkeypatch.setattr(tk, "get_encoding", loaded)
    counter = token_counter_for("gpt-4o")

    assert isinstance(counter, TiktokenCounter)
    assert asked == ["o200k_base"]
    assert counter.count("abab c") == 4  # "ab", "ab", " ", "c"
    assert counter.count("") == 0


def test_special_token_text_is_counted_as_text(tk: Any) -> None:
    counter = TiktokenCounter(tiny_encoding(tk))

    assert counter.count("<|endoftext|>") == len("<|endoftext|>")
