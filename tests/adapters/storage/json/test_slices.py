"""data.json is decoded a slice at a time: the slices must read exactly what one walk reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.storage.json import format as data_json
from adapters.storage.json.format import Invalid, top_level_pairs

# Characters that make a cut look like a boundary when it is not.
_TRICKY = st.text(st.sampled_from('ab}{][,":\\ \n\t/é😀'), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | _TRICKY
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=8,
)
_ENTRIES = st.dictionaries(_TRICKY, _VALUES, max_size=5)
_DOCUMENTS = st.dictionaries(_TRICKY, _ENTRIES | _SCALARS, max_size=30)
_LAYOUTS = st.sampled_from([(None, (", ", ": ")), (None, (",", ":")), (1, None), (4, None)])


def read(text: str, size: int) -> tuple[str, Any]:
    """What the file reads as with slices of ``size``: its pairs, or that it was refused."""
    try:
        return "pairs", list(top_level_pairs(text.encode("utf-8", "surrogatepass"), size))
    except (Invalid, ValueError):
        return "refused", None


@given(_DOCUMENTS, _LAYOUTS, st.integers(1, 200))
def test_slices_read_every_pair_of_any_document(
    document: dict[str, Any], layout: tuple[int | None, tuple[str, str] | None], size: int
) -> None:
    indent, separators = layout
    text = json.dumps(document, indent=indent, separators=separators, ensure_ascii=False)
    assert read(text, size) == ("pairs", list(document.items()))


@given(
    _DOCUMENTS,
    st.integers(0, 10**6),
    st.sampled_from(["", "}", ",", '"', "{", "\\", "},", ' "x": 1,']),
    st.integers(1, 200),
)
def test_damaged_text_reads_as_one_walk_reads_it(
    document: dict[str, Any], where: int, insert: str, size: int
) -> None:
    text = json.dumps(document, ensure_ascii=False)
    at = where % (len(text) + 1)
    damaged = text[:at] + insert + text[at + (0 if insert else 1) :]
    assert read(damaged, size) == read(damaged, len(damaged.encode()) + 1)


@pytest.mark.parametrize("text", ['{"5": {}, }', '{"5": {},}', '{"5": {}, "6": {},\n}'])
def test_a_trailing_comma_after_a_slice_is_refused(text: str) -> None:
    for size in range(1, len(text) + 2):
        assert read(text, size) == ("refused", None), size


def test_a_duplicate_inside_a_slice_is_still_found() -> None:
    """Decoding a slice as one object must not merge two entries of the same user."""
    text = '{"5": {"balance": 1}, "6": {"balance": 2}, "5": {"balance": 3}, "7": {"balance": 4}}'
    for size in range(1, len(text) + 2):
        kind, pairs = read(text, size)
        assert kind == "pairs"
        assert [key for key, _ in pairs] == ["5", "6", "5", "7"], size  # _parse refuses "5"


def test_large_files_are_decoded_in_slices_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path really runs: only the last slice's worth of text is left to the walk."""
    document = {str(n): {"balance": n, "prompt": "}, {"} for n in range(5_000)}
    text = json.dumps(document)
    walked_from: list[int] = []
    walk = data_json.walk

    def spy(text: str, at: int, after_comma: bool, offset: int) -> Iterator[tuple[str, Any]]:
        walked_from.append(offset)
        return walk(text, at, after_comma, offset)

    # Which path read an entry cannot show in the result, by design: only a spy can tell.
    monkeypatch.setattr(data_json, "walk", spy)
    assert list(top_level_pairs(text.encode(), 1_000)) == list(document.items())
    assert len(walked_from) == 1
    assert len(text) - walked_from[0] < 2_000
