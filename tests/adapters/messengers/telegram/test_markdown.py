"""Markdown from the model becomes Telegram text plus entities, never a refused message."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telethon import helpers
from telethon.tl import types

from adapters.messengers.telegram import markdown
from adapters.messengers.telegram.markdown import to_entities
from adapters.messengers.telegram.text import units
from tests.adapters.messengers.telegram.fakes import entity_texts


def shapes(source: str) -> tuple[str, list[tuple[str, str]]]:
    text, entities = to_entities(source)
    return text, entity_texts(text, entities)


@pytest.mark.parametrize(
    ("source", "text", "spans"),
    [
        ("**bold** and __strong__", "bold and strong", [("Bold", "bold"), ("Bold", "strong")]),
        ("*one* and _two_", "one and two", [("Italic", "one"), ("Italic", "two")]),
        ("run `x = *y*` now", "run x = *y* now", [("Code", "x = *y*")]),
        ("``a ` b``", "a ` b", [("Code", "a ` b")]),
        ("see [the docs](https://x.org/a_(b))", "see the docs", [("TextUrl", "the docs")]),
        ("# Title\nbody", "Title\nbody", [("Bold", "Title")]),
        ("## Sub *it* ##", "Sub it", [("Bold", "Sub it"), ("Italic", "it")]),
        (r"\*not italic\*", "*not italic*", []),
        ("~~gone~~ now", "gone now", [("Strike", "gone")]),
        ("**~~both~~**", "both", [("Bold", "both"), ("Strike", "both")]),
    ],
)
def test_inline_formatting(source: str, text: str, spans: list[tuple[str, str]]) -> None:
    assert shapes(source) == (text, spans)


def test_a_fenced_block_becomes_pre_with_its_language() -> None:
    source = "Try this:\n\n```python\ndef f():\n    return **kw\n```\nDone *now*."
    text, entities = to_entities(source)
    assert text == "Try this:\n\ndef f():\n    return **kw\nDone now."
    pre = entities[0]
    assert isinstance(pre, types.MessageEntityPre)
    assert pre.language == "python"
    assert entity_texts(text, entities) == [
        ("Pre", "def f():\n    return **kw"),
        ("Italic", "now"),
    ]


def test_an_unclosed_fence_runs_to_the_end_like_commonmark() -> None:
    assert shapes("x\n~~~\ncode *a*") == ("x\ncode *a*", [("Pre", "code *a*")])


def test_a_fence_indented_in_a_list_item_loses_only_that_indentation() -> None:
    source = "1. Step:\n   ```sh\n   ls -l\n     indented\n   ```\n2. Next"
    assert shapes(source) == (
        "1. Step:\nls -l\n  indented\n2. Next",
        [("Pre", "ls -l\n  indented")],
    )


@pytest.mark.parametrize(
    ("source", "spans"),
    [
        ("**bold _it_ bold**", [("Bold", "bold it bold"), ("Italic", "it")]),
        ("***both***", [("Bold", "both"), ("Italic", "both")]),
        ("*it **bold** it*", [("Italic", "it bold it"), ("Bold", "bold")]),
        ("[**b** t](http://a.b)", [("TextUrl", "b t"), ("Bold", "b")]),
        ("**see [x](http://a.b)**", [("Bold", "see x"), ("TextUrl", "x")]),
    ],
)
def test_nesting(source: str, spans: list[tuple[str, str]]) -> None:
    assert sorted(shapes(source)[1]) == sorted(spans)


def test_offsets_count_utf16_units() -> None:
    text, entities = to_entities("😀 **жирный** 𝔘 `c`")
    assert text == "😀 жирный 𝔘 c"
    bold, code = entities
    assert (bold.offset, bold.length) == (3, 6)  # the emoji counts two
    assert (code.offset, code.length) == (13, 1)  # so does the mathematical letter
    assert entity_texts(text, entities) == [("Bold", "жирный"), ("Code", "c")]


@pytest.mark.parametrize(
    "source",
    [
        "**never closed",
        "closed only**",
        "a * b * c",
        "2*3 = 6 and 3 * 2",
        "snake_case_name and a__b__c",
        "foo_bar baz_ and snake_case_",
        "* a bullet\n* another",
        "- item\n  - sub *item",
        "`no closing",
        "[link](no closing",
        "[label] (space) and [](empty)",
        "***",
        "_ _ __ __",
        "\\",
        "about ~5 min, ~10 at most",
        "~one~ and ~~~three~~~",
        "~~never closed and ~~ spaced ~~",
    ],
)
def test_unbalanced_or_literal_markers_stay_as_written(source: str) -> None:
    assert to_entities(source) == (source, [])


def test_lists_are_kept_as_text() -> None:
    source = "Steps:\n1. first **a**\n2. second\n- x"
    assert shapes(source) == ("Steps:\n1. first a\n2. second\n- x", [("Bold", "a")])


def test_quoted_lines_become_one_blockquote() -> None:
    source = "He said:\n> first **line**\n>second\n>\n> > nested\nThen more."
    assert shapes(source) == (
        "He said:\nfirst line\nsecond\n\n> nested\nThen more.",
        [("Blockquote", "first line\nsecond\n\n> nested"), ("Bold", "line")],
    )


def test_a_quote_ends_at_a_blank_line_and_a_new_one_starts_after_it() -> None:
    assert shapes("> a\n\n> b") == ("a\n\nb", [("Blockquote", "a"), ("Blockquote", "b")])


def test_blank_lines_and_crlf_survive() -> None:
    assert shapes("a\r\n\r\n\r\n**b**\r\n") == ("a\n\n\n" + "b\n", [("Bold", "b")])


markdownish = st.lists(
    st.sampled_from([*"ab _*`[]()#~>\\\n😀é ", "```", "**", "__", "~~", "\n> ", "](http://x.y)"]),
    max_size=60,
).map("".join)


@given(markdownish)
def test_any_input_gives_valid_entities(source: str) -> None:
    with mock.patch.object(markdown.log, "exception", side_effect=AssertionError):
        text, entities = to_entities(source)
    length = units(text)
    for entity in entities:
        assert entity.length > 0
        assert entity.offset >= 0
        assert entity.offset + entity.length <= length
    # Nothing is invented: every character of the text comes from the source, in order (a
    # line break inside inline code becomes a space, as in CommonMark).
    remaining = iter(source.replace("\n", " "))
    assert all(char in remaining for char in text.replace("\n", " "))


@given(st.text(max_size=200))
def test_arbitrary_unicode_never_raises(source: str) -> None:
    with mock.patch.object(markdown.log, "exception", side_effect=AssertionError):
        text, entities = to_entities(source)
    surrogated = helpers.add_surrogate(text)
    assert all(e.offset + e.length <= len(surrogated) for e in entities)


@pytest.mark.parametrize(
    "url", ["https://x.org/a", "http://x.org", "tg://user?id=1", "mailto:a@b.org"]
)
def test_safe_schemes_become_links(url: str) -> None:
    text, entities = to_entities(f"see [the docs]({url})")
    assert text == "see the docs"
    assert [(type(e).__name__, e.url) for e in entities] == [("MessageEntityTextUrl", url)]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "/src/app.py", "data:text/html,x", "file:///etc/passwd", "x.org"]
)
def test_other_links_stay_visible_as_written(url: str) -> None:
    source = f"see [the code]({url})"
    assert to_entities(source) == (source, [])
