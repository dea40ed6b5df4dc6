"""A node's attachments as the thread stores keep them: exact both ways, nothing for none, and a
damaged value costs the pictures, not the node."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.storage.attachments import decode, encode
from core.values import Attachment, MediaKind

PHOTO = Attachment(  # size 0 and height 0: known to be 0, not unknown
    MediaKind.IMAGE, "42", mime="image/jpeg", name="снимок 🙂.jpg", size=0, width=1280, height=0
)
VOICE = Attachment(MediaKind.VOICE, "/tmp/voice.ogg", "audio/ogg", None, 5_021, 0.1 + 0.2)
ODD = Attachment(MediaKind.DOCUMENT, "a\x00b\udcff", name="\ud800 lone", duration=3)


def test_every_field_comes_back_as_it_was() -> None:
    attachments = (PHOTO, VOICE, ODD)
    text = encode(attachments)
    assert text is not None
    assert text.isascii()  # fits any text column, NUL and lone surrogates included
    back = decode(text)
    assert back == attachments
    assert back[0].size == 0
    assert back[0].duration is None
    assert back[1].duration == 0.30000000000000004
    assert type(back[2].duration) is int  # a whole number stays one


def test_no_attachments_cost_nothing() -> None:
    assert encode(()) is None
    assert decode(None) == ()
    assert decode("") == ()


def test_only_the_fields_that_are_set_are_written() -> None:
    text = encode((Attachment(MediaKind.IMAGE, "7"),))
    assert text is not None
    assert json.loads(text) == [{"kind": "image", "ref": "7"}]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("not json", ()),
        ('{"kind": "image", "ref": "1"}', ()),  # not a list
        ("[" * 100_000 + "]" * 100_000, ()),
        # A kind a newer version wrote, and values of the wrong type: only those are left out.
        ('[{"kind": "video", "ref": "1"}, {"kind": "image", "ref": "2"}]', ("2",)),
        ('[{"kind": "image", "ref": 1}, {"kind": "image", "ref": "2", "x": 1}]', ("2",)),
        ('[{"kind": "image", "ref": "1", "size": true}, "image"]', ()),
        ('[{"kind": "image", "ref": "1", "width": 1.5}]', ()),
        ('[{"kind": "image", "ref": "1", "duration": "long"}]', ()),
        ('[{"kind": "image", "ref": "1", "mime": 7}]', ()),
    ],
)
def test_what_cannot_be_read_is_left_out_and_logged(
    text: str, kept: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert tuple(a.ref for a in decode(text)) == kept
    assert "left out" in caplog.text


def _optional(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | values


attachments = st.builds(
    Attachment,
    kind=st.sampled_from(MediaKind),
    ref=st.text(),
    mime=_optional(st.text()),
    name=_optional(st.text()),
    size=_optional(st.integers(min_value=0)),
    duration=_optional(st.floats(allow_nan=False) | st.integers(min_value=0)),
    width=_optional(st.integers(min_value=0)),
    height=_optional(st.integers(min_value=0)),
)


@given(st.lists(attachments, max_size=5).map(tuple))
def test_any_attachments_come_back_exactly(given_attachments: tuple[Attachment, ...]) -> None:
    back = decode(encode(given_attachments))
    assert back == given_attachments
    assert [tuple(map(type, vars_of(a))) for a in back] == [
        tuple(map(type, vars_of(a))) for a in given_attachments
    ]


def vars_of(attachment: Attachment) -> tuple[object, ...]:
    return (attachment.size, attachment.duration, attachment.width, attachment.height)
