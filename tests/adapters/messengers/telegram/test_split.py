"""Long answers become several valid messages, with code blocks kept whole when they fit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telethon.tl import types

from adapters.messengers.telegram.markdown import to_entities
from adapters.messengers.telegram.split import Part, split
from adapters.messengers.telegram.text import LIMIT, units
from tests.adapters.messengers.telegram.fakes import entity_texts


def assert_valid(parts: list[Part], limit: int = LIMIT) -> None:
    for part in parts:
        assert part.text == part.text.strip() != ""
        assert units(part.text) <= limit
        for entity in part.entities:
            assert entity.length > 0
            assert entity.offset >= 0
            assert entity.offset + entity.length <= units(part.text)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_short_text_is_one_part() -> None:
    text, entities = to_entities("Hello **world** 😀")
    [part] = split(text, entities)
    assert part.text == text
    assert entity_texts(part.text, part.entities) == [("Bold", "world")]


def test_whitespace_alone_gives_no_parts() -> None:
    assert split(" \n\n ") == []


def test_a_long_answer_with_a_code_block() -> None:
    prose = " ".join(f"Word{i} 😀" for i in range(345))  # ~3,800 units, no paragraph break
    code = "\n".join(f"    value_{i} = compute({i})  # 🙂" for i in range(110))  # ~3,800 units
    source = f"{prose}\n\n```python\n{code}\n```\n\n{prose}\n\nThe **end**."
    assert len(source) > 10_000
    text, entities = to_entities(source)
    parts = split(text, entities)
    assert_valid(parts)
    assert len(parts) == 3
    # The block would straddle the first cut: it moved whole into the second message.
    assert parts[0].text == prose
    assert entity_texts(parts[1].text, parts[1].entities) == [("Pre", code.strip())]
    assert entity_texts(parts[2].text, parts[2].entities) == [("Bold", "end")]
    assert squeeze("".join(p.text for p in parts)) == squeeze(text)


def test_a_short_message_is_better_than_a_cut_through_a_code_block() -> None:
    prose = "intro " * 250  # 1,500 units: the only boundary outside the code is early
    code = "\n".join(f"step({i})" for i in range(300))  # ~3,000 units, would straddle 4096
    text, entities = to_entities(f"{prose}\n\n```\n{code}\n```\n\nafter")
    parts = split(text, entities)
    assert_valid(parts)
    assert [p.text for p in parts[:1]] == [prose.strip()]
    assert entity_texts(parts[1].text, parts[1].entities) == [("Pre", code)]


def test_a_code_block_longer_than_a_message_is_closed_and_reopened() -> None:
    code = "\n".join(f"line_{i:04d} = {i} * 2  # 😀" for i in range(400))  # ~11,000 units
    source = f"Here:\n\n```rust\n{code}\n```\nBye."
    text, entities = to_entities(source)
    parts = split(text, entities)
    assert_valid(parts)
    assert len(parts) >= 3
    shown = []
    for part in parts:
        pres = [e for e in part.entities if isinstance(e, types.MessageEntityPre)]
        assert len(pres) == 1
        assert pres[0].language == "rust"
        shown.append(entity_texts(part.text, pres)[0][1])
    # Cut at line ends: every line arrives whole, in order, exactly once.
    assert "\n".join(shown).splitlines() == code.splitlines()


def test_boundaries_are_preferred_paragraph_then_line_then_space() -> None:
    paragraph = "a" * 3000 + "\n\n" + "b" * 3000
    assert [len(p.text) for p in split(paragraph)] == [3000, 3000]
    line = "a" * 3000 + "\n" + "b" * 500 + " " + "c" * 2000
    assert [len(p.text) for p in split(line)] == [3000, 2501]
    space = ("word " * 2000).strip()
    parts = split(space)
    assert all(not p.text.endswith("wor") for p in parts)
    assert " ".join(p.text for p in parts) == space


def test_a_late_boundary_beats_a_better_but_early_one() -> None:
    text = "a" * 100 + "\n\n" + "b" * 3500 + "\n" + "c" * 3000
    assert [len(p.text) for p in split(text)] == [3602, 3000]


def test_a_word_longer_than_a_message_is_cut_without_breaking_an_emoji() -> None:
    text = "x" + "😀" * 5000
    parts = split(text)
    assert_valid(parts)
    assert "".join(p.text for p in parts) == text
    assert units(parts[0].text) == LIMIT - 1  # the next emoji would not fit whole


def test_entities_across_a_cut_continue_in_the_next_part() -> None:
    text = ("a " * 3000).strip()
    [first, second] = split(text, [types.MessageEntityBold(4000, 1000)])
    second_starts = units(first.text) + 1  # after the space the cut fell on
    assert [(e.offset, e.length) for e in first.entities] == [(4000, units(first.text) - 4000)]
    assert [(e.offset, e.length) for e in second.entities] == [(0, 5000 - second_starts)]


def test_the_input_entities_are_not_changed() -> None:
    bold = types.MessageEntityBold(10, 5000)
    split("word " * 2000, [bold])
    assert (bold.offset, bold.length) == (10, 5000)


@st.composite
def texts_with_entities(draw: st.DrawFn) -> tuple[str, list[Any]]:
    text = draw(
        st.lists(
            st.sampled_from(["a", "bb ", "\n", "\n\n", "😀", "é", " ", "word " * 50]), max_size=300
        )
    )
    joined = "".join(text)
    size = units(joined)
    entities = []
    for start, length in draw(
        st.lists(st.tuples(st.integers(0, size), st.integers(1, 900)), max_size=6)
    ):
        length = min(length, size - start)
        if length > 0:
            maker = draw(st.sampled_from([types.MessageEntityBold, types.MessageEntityItalic]))
            entities.append(maker(start, length))
    return joined, entities


@given(texts_with_entities(), st.integers(8, 600))
def test_any_split_is_valid(case: tuple[str, list[Any]], limit: int) -> None:
    text, entities = case
    parts = split(text, entities, limit)
    assert_valid(parts, limit)
    assert squeeze("".join(p.text for p in parts)) == squeeze(text)


# -- issue 8's edges -----------------------------------------------------------------------------


def test_exactly_the_limit_fits_in_one_message() -> None:
    for text in ["a" * LIMIT, "a" * (LIMIT - 2) + "😀", "😀" * (LIMIT // 2)]:
        [part] = split(text)
        assert part.text == text


def test_no_part_holds_more_than_100_entities() -> None:
    text, entities = to_entities(" ".join(f"**b{i}**" for i in range(300)))
    parts = split(text, entities)
    assert len(parts) == 3
    assert [len(p.entities) for p in parts] == [100, 100, 100]
    assert_valid(parts)
    assert [t for p in parts for _, t in entity_texts(p.text, p.entities)] == [
        f"b{i}" for i in range(300)
    ]


@pytest.mark.parametrize(
    "cluster",
    ["👨‍👩‍👧‍👦", "🇷🇺", "e\u0301", "👍🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "❤️"],
    ids=["family", "flag", "accent", "skin-tone", "subdivision-flag", "variation"],
)
def test_a_cut_never_splits_a_character_a_reader_sees_as_one(cluster: str) -> None:
    run = "abc " + cluster * (3 * LIMIT // units(cluster))
    parts = split(run)
    assert len(parts) > 1
    assert "".join(p.text for p in parts) == run
    for part in parts:
        assert part.text.removeprefix("abc ").replace(cluster, "") == ""  # whole ones only


def test_an_unbreakable_run_leaves_no_stub_first_part() -> None:
    parts = split("Sure: " + "😀" * 3000)
    assert units(parts[0].text) > LIMIT // 2  # not "Sure:" alone
    assert "".join(p.text for p in parts) == "Sure: " + "😀" * 3000
