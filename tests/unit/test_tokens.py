"""core.tokens: the calibrating counter and fitting budgets into a model's window."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.tokens import CalibratingCounter, CharTokenCounter, fit_budgets, prompt_tokens
from core.values import Role, Turn


@attrs.frozen
class WordsTokenizer:
    """A stand-in for a server's tokenizer that differs from the heuristic: so many tokens a
    word (the heuristic counts about 1.4 for these short words)."""

    per_word: float

    def count(self, text: str) -> int:
        return round(len(text.split()) * self.per_word)


WORDS = ["the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for"]


def conversation(rng: random.Random) -> tuple[Turn, ...]:
    def say(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    turns = [Turn(Role.SYSTEM, say(rng.randint(3, 30)))]
    for _ in range(rng.randint(1, 8)):
        turns.append(Turn(Role.USER, say(rng.randint(5, 300))))
        turns.append(Turn(Role.ASSISTANT, say(rng.randint(5, 300))))
    return (*turns, Turn(Role.USER, say(rng.randint(5, 100))))


def error(counter: CalibratingCounter, server: WordsTokenizer, turns: tuple[Turn, ...]) -> float:
    truth = prompt_tokens(server, turns)
    return abs(prompt_tokens(counter, turns) - truth) / truth


# Over-counted (English on the seed's heuristic) and under-counted (Cyrillic on a small model).
@pytest.mark.parametrize("per_word", [0.55, 3.0])
@pytest.mark.parametrize("seed", range(5))
def test_estimates_are_within_ten_percent_after_twenty_answers(seed: int, per_word: float) -> None:
    rng = random.Random(seed)
    server = WordsTokenizer(per_word)
    counter = CalibratingCounter(CharTokenCounter())
    probes = [conversation(rng) for _ in range(20)]
    before = min(error(counter, server, turns) for turns in probes)

    for _ in range(20):
        turns = conversation(rng)
        # The server's report: its own tokenizer, and its own chat markup.
        counter.observe(counter.uncorrected(turns), prompt_tokens(server, turns))

    assert before > 0.3  # the heuristic alone is far off for this tokenizer
    assert max(error(counter, server, turns) for turns in probes) < 0.10


def test_one_odd_report_does_not_undo_what_was_learnt() -> None:
    counter = CalibratingCounter(CharTokenCounter())
    for _ in range(20):
        counter.observe(1_000, 500)
    counter.observe(1_000, 4_000)

    assert 0.5 < counter.ratio < 0.8


@pytest.mark.parametrize(("estimated", "reported"), [(100, 100_000), (100_000, 1)])
def test_nonsense_reports_move_the_ratio_only_within_bounds(estimated: int, reported: int) -> None:
    counter = CalibratingCounter(CharTokenCounter(), lowest=0.25, highest=4.0)
    for _ in range(50):
        counter.observe(estimated, reported)

    assert 0.25 - 1e-9 <= counter.ratio <= 4.0 + 1e-9


@pytest.mark.parametrize(("estimated", "reported"), [(0, 10), (10, 0), (-5, 10)])
def test_empty_reports_teach_nothing(estimated: int, reported: int) -> None:
    counter = CalibratingCounter(CharTokenCounter())
    counter.observe(estimated, reported)

    assert counter.ratio == 1.0
    assert counter.observations == 0


def test_before_any_report_it_counts_as_its_base() -> None:
    counter = CalibratingCounter(CharTokenCounter())
    for text in ("", "a", "hello world", "привет"):
        assert counter.count(text) == CharTokenCounter().count(text)


@pytest.mark.parametrize(
    "settings", [{"weight": 0.0}, {"weight": 1.5}, {"lowest": 2.0}, {"highest": 0.5}]
)
def test_nonsense_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        CalibratingCounter(CharTokenCounter(), **settings)


# -- budgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "context", "reply", "expected"),
    [
        (4_096, 4_000, 3_000, (3_072, 1_024)),  # the seed's defaults in llama.cpp's window
        (4_096, 8_000, 3_000, (3_072, 1_024)),
        (8_192, 8_000, 3_000, (6_144, 2_048)),
        (16_385, 8_000, 3_000, (8_000, 3_000)),  # fits: nothing changes
        (128_000, 8_000, 3_000, (8_000, 3_000)),
        (4_096, 1_000, 3_000, (1_000, 3_000)),
        (4_096, 2_000, 3_000, (2_000, 2_096)),  # the reply keeps what the prompt leaves
        (4_096, 4_000, 500, (3_596, 500)),  # a small cap is kept, the prompt gets the rest
    ],
)
def test_budgets_fit_the_window(
    window: int, context: int, reply: int, expected: tuple[int, int]
) -> None:
    assert fit_budgets(window, context, reply) == expected


@given(
    window=st.integers(1, 2_000_000),
    context=st.integers(1, 2_000_000),
    reply=st.integers(1, 200_000),
)
def test_fitted_budgets_never_exceed_the_window_or_the_limits(
    window: int, context: int, reply: int
) -> None:
    fitted_context, fitted_reply = fit_budgets(window, context, reply)

    assert fitted_context + fitted_reply <= window
    assert 0 <= fitted_context <= context
    assert 0 < fitted_reply <= reply or window < 4


@pytest.mark.parametrize("args", [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_budgets_need_positive_numbers(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        fit_budgets(*args)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ASCII text",
        "Привет, мир",
        "日本語",
        "😀 emoji",
        "\udc80 a lone surrogate",
        "é" * 7,
    ],
)
def test_the_heuristic_counts_two_tokens_for_every_five_utf8_bytes(text: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    assert CharTokenCounter().count(text) == (size * 2 + 4) // 5
