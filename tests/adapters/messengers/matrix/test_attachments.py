"""Matrix media events as the core's attachments: what each msgtype becomes, before any
download."""

from __future__ import annotations

from adapters.messengers.matrix.attachments import UNSUPPORTED, caption, describe
from core.values import Attachment, MediaKind

URL = "mxc://localhost/abcDEF"


def test_a_voice_note_is_voice_with_its_declared_length_and_a_name_the_server_can_read() -> None:
    content = {
        "msgtype": "m.audio",
        "body": "Voice message",
        "url": URL,
        "info": {"mimetype": "audio/ogg", "size": 4_000, "duration": 2_500},
        "org.matrix.msc3245.voice": {},
        "org.matrix.msc1767.audio": {"duration": 2_500},
    }
    assert describe(content) == Attachment(
        MediaKind.VOICE, URL, mime="audio/ogg", name="voice.ogg", size=4_000, duration=2.5
    )
    assert caption(content) == ""  # "Voice message" is the client's label, not the person's


def test_an_audio_file_keeps_its_name_and_a_picture_its_shape() -> None:
    audio = {
        "msgtype": "m.audio",
        "body": "talk.mp3",
        "url": URL,
        "info": {"mimetype": "audio/mpeg"},
    }
    assert describe(audio) == Attachment(MediaKind.VOICE, URL, mime="audio/mpeg", name="talk.mp3")
    image = {
        "msgtype": "m.image",
        "body": "what is this?",
        "filename": "cat.png",
        "url": URL,
        "info": {"mimetype": "image/png", "size": 900, "w": 64, "h": 48},
    }
    assert describe(image) == Attachment(
        MediaKind.IMAGE, URL, mime="image/png", name="cat.png", size=900, width=64, height=48
    )
    assert caption(image) == "what is this?"  # body differs from filename: a caption


def test_files_and_pictures_models_cannot_see_are_documents() -> None:
    for content in (
        {
            "msgtype": "m.file",
            "body": "notes.md",
            "url": URL,
            "info": {"mimetype": "text/markdown"},
        },
        {
            "msgtype": "m.image",
            "body": "plan.svg",
            "url": URL,
            "info": {"mimetype": "image/svg+xml"},
        },
    ):
        described = describe(content)
        assert isinstance(described, Attachment)
        assert described.kind is MediaKind.DOCUMENT
        assert described.name == content["body"]
        assert caption(content) == ""


def test_what_cannot_be_fetched_or_used_is_unsupported() -> None:
    encrypted = {"msgtype": "m.image", "body": "x.png", "file": {"url": URL}}  # no "url"
    video = {"msgtype": "m.video", "body": "clip.mp4", "url": URL}
    place = {"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"}
    web = {"msgtype": "m.file", "body": "x", "url": "https://example.org/x"}
    for content in (encrypted, video, place, web):
        assert describe(content) is UNSUPPORTED


def test_a_client_s_odd_numbers_are_taken_as_unknown() -> None:
    content = {
        "msgtype": "m.file",
        "body": "a.txt",
        "url": URL,
        "info": {"size": -5, "mimetype": 7},
    }
    assert describe(content) == Attachment(MediaKind.DOCUMENT, URL, name="a.txt")
    voice = {"msgtype": "m.audio", "body": "v", "url": URL, "info": {"duration": True}}
    described = describe(voice)
    assert isinstance(described, Attachment)
    assert described.duration is None
