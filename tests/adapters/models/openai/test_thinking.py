"""ThinkSplitter: ``<think>`` blocks told apart from the answer, however the stream cuts them."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from adapters.models.openai.thinking import ThinkSplitter

TEXT = "<think>first, the sums: 2 < 3</think>\nThe answer is <b>5</b>. <think>again</think>Done."


def run(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    answer, thinking = "", ""
    for piece in [*pieces, None]:
        text, thought = splitter.feed(piece) if piece is not None else splitter.flush()
        answer += text
        thinking += thought
    return answer, thinking


def test_think_blocks_leave_the_answer() -> None:
    assert run([TEXT]) == ("The answer is <b>5</b>. Done.", "first, the sums: 2 < 3again")


@given(st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=12))
def test_any_cut_of_the_stream_gives_the_same(cuts: list[int]) -> None:
    bounds = sorted({0, len(TEXT), *cuts})
    pieces = [TEXT[a:b] for a, b in itertools.pairwise(bounds)]
    assert run(pieces) == run([TEXT])


def test_a_lone_angle_bracket_at_the_end_is_answer() -> None:
    assert run(["x <", "thin"]) == ("x <thin", "")
    assert run(["<think>unfinished"]) == ("", "unfinished")
