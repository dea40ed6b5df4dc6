"""The console as a messenger of files: :photo, :voice and :file on real files, the files
fetched again by reference, and the bot's pictures written to files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.messengers.console.numbers import numbering, short_numbering
from adapters.messengers.console.session import (
    HELP,
    ConsoleSession,
    ConsoleSink,
    Note,
    Send,
    visible,
)
from adapters.models.offline.media import pattern_png
from core.errors import DeliveryFailed, MediaTooLarge, MediaUnavailable
from core.ports import MediaSource, ReplySink
from core.values import Attachment, MediaKind, Offer, Picture
from tests.adapters.media_files import jpeg_head, png_file, voice_note


def session() -> ConsoleSession:
    return ConsoleSession(admin_id="1", bot_username="gptbot", ids=numbering(10))


def sent(action: object) -> Send:
    assert isinstance(action, Send), action
    return action


def test_a_photo_with_a_caption(tmp_path: Path) -> None:
    picture = png_file(tmp_path / "cat.png", size=64)

    send = sent(session().parse(f":photo {picture} what is this?\n"))

    assert send.incoming.text == "what is this?"
    assert send.incoming.attachments == (
        Attachment(
            MediaKind.IMAGE,
            str(picture),
            "image/png",
            "cat.png",
            picture.stat().st_size,
            width=64,
            height=64,
        ),
    )
    assert send.wait
    assert send.addressed


def test_a_voice_note_replying_to_a_message_knows_its_length(tmp_path: Path) -> None:
    note = voice_note(tmp_path, 3.2, name="my voice.ogg")

    send = sent(session().parse(f'>5 :voice "{note}"'))

    (attachment,) = send.incoming.attachments
    assert (attachment.kind, attachment.mime, attachment.name) == (
        MediaKind.VOICE,
        "audio/ogg",
        "my voice.ogg",
    )
    assert attachment.duration == 3.2
    assert attachment.size == note.stat().st_size
    assert (send.incoming.reply_to, send.incoming.text) == ("5", "")


def test_files_go_as_a_messenger_sends_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative names are relative to where the console runs
    Path("notes.md").write_text("# Notes\n", encoding="utf-8")
    Path("photo.jpg").write_bytes(jpeg_head(640, 480))
    voice_note(tmp_path, 1.0, name="memo.opus")
    console = session()

    document = sent(console.parse("& :file ./sub/../notes.md summarise it"))
    picture = sent(console.parse(":FILE photo.jpg"))
    recording = sent(console.parse(":file memo.opus"))

    assert not document.wait
    assert document.incoming.text == "summarise it"
    (doc,) = document.incoming.attachments
    assert (doc.kind, doc.ref, doc.mime) == (
        MediaKind.DOCUMENT,
        str(tmp_path / "notes.md"),
        "text/markdown",
    )
    (jpeg,) = picture.incoming.attachments
    assert (jpeg.kind, jpeg.mime, jpeg.width, jpeg.height) == (
        MediaKind.IMAGE,
        "image/jpeg",
        640,
        480,
    )
    (opus,) = recording.incoming.attachments
    assert opus.kind is MediaKind.VOICE
    assert opus.duration == 1.0


def test_a_file_that_cannot_be_sent_is_explained_and_nothing_is_sent(tmp_path: Path) -> None:
    console = session()
    text = tmp_path / "notes.txt"
    text.write_text("words", encoding="utf-8")

    missing = console.parse(f":photo {tmp_path / 'gone.png'} caption")
    directory = console.parse(f":file {tmp_path}")
    not_a_picture = console.parse(f":photo {text}")
    not_a_recording = console.parse(f":voice {text}")
    nothing = console.parse(":voice")
    no_such_home = console.parse(":file ~no-such-user-here/notes.txt")
    nul = console.parse(":file /tmp/a\x00b")

    assert missing == Note(f"No file {tmp_path / 'gone.png'}: nothing was sent.")
    assert directory == Note(f"{tmp_path} is not a file.")
    assert isinstance(no_such_home, Note)
    assert no_such_home.text.startswith("Cannot find ~no-such-user-here/notes.txt")
    assert isinstance(nul, Note)
    assert "Nothing was sent" in nul.text
    assert isinstance(not_a_picture, Note)
    assert "not a picture" in not_a_picture.text
    assert isinstance(not_a_recording, Note)
    assert "not a recording" in not_a_recording.text
    assert nothing == Note("Usage: :voice FILE [TEXT]. Type :help.")
    # No message id was spent on them.
    assert sent(console.parse("hello")).incoming.message_id == "10"


def test_in_a_group_a_photo_needs_the_bot_addressed(tmp_path: Path) -> None:
    picture = png_file(tmp_path / "p.png")
    console = session()
    console.parse(":group")

    ignored = sent(console.parse(f":photo {picture} nice, right?"))
    asked = sent(console.parse(f":photo {picture} @gptbot what is it?"))

    assert not ignored.addressed
    assert asked.addressed
    assert asked.incoming.text == "what is it?"
    assert not asked.incoming.private


def test_the_help_lists_the_file_commands() -> None:
    for command in (":photo FILE", ":voice FILE", ":file FILE"):
        assert command in HELP
    assert session().parse(":help") == Note(HELP)


async def test_the_sink_fetches_a_file_by_its_reference(tmp_path: Path) -> None:
    picture = png_file(tmp_path / "p.png")
    attachment = sent(session().parse(f":photo {picture}")).incoming.attachments[0]
    media: MediaSource = ConsoleSink(io.StringIO(), numbering())

    assert await media.fetch("100", attachment, limit=1_000_000) == picture.read_bytes()
    with pytest.raises(MediaTooLarge):
        await media.fetch("100", attachment, limit=100)
    # The file grew after it was sent: its size now, not the one sent, is what counts.
    picture.write_bytes(bytes(5_000))
    with pytest.raises(MediaTooLarge):
        await media.fetch("100", attachment, limit=4_999)
    picture.unlink()
    with pytest.raises(MediaUnavailable):
        await media.fetch("100", attachment, limit=1_000_000)
    with pytest.raises(MediaUnavailable):
        await media.fetch("100", Attachment(MediaKind.IMAGE, "12345"), limit=1_000)


async def test_the_sinks_pictures_are_written_whole_and_their_paths_printed(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    sink = ConsoleSink(out, numbering(7), pictures=tmp_path / "pictures")
    port: ReplySink = sink
    picture = Picture(pattern_png("a lighthouse", 32))

    ids = await port.send_picture("100", picture, "a lighthouse", reply_to="6")

    saved = tmp_path / "pictures" / "7.png"
    assert ids == ("7",)
    assert "7" in sink.sent
    assert saved.read_bytes() == picture.data
    assert out.getvalue() == (
        f"[7] bot → user 100 ↪ 6: [picture {saved}, image/png, 32×32, "
        f"{len(picture.data)} bytes] a lighthouse\n"
    )
    assert sorted(p.name for p in saved.parent.iterdir()) == ["7.png"]  # no temporary left


async def test_a_picture_that_cannot_be_saved_is_not_delivered(tmp_path: Path) -> None:
    blocker = tmp_path / "pictures"
    blocker.write_text("a file where the directory should be", encoding="utf-8")
    out = io.StringIO()
    sink = ConsoleSink(out, numbering(7), pictures=blocker)

    with pytest.raises(DeliveryFailed):
        await sink.send_picture("100", Picture(b"\x89PNG"), "x")

    assert sink.sent == set()
    assert out.getvalue() == ""


async def test_without_a_directory_pictures_go_to_a_temporary_one() -> None:
    out = io.StringIO()
    sink = ConsoleSink(out, numbering(1))

    await sink.send_picture("100", Picture(pattern_png("x", 8)), "")

    assert sink.pictures is not None
    path = sink.pictures / "1.png"
    assert path.read_bytes() == pattern_png("x", 8)
    assert out.getvalue().endswith(
        f"[picture {path}, image/png, 8×8, {path.stat().st_size} bytes]\n"
    )
    path.unlink()
    sink.pictures.rmdir()


def test_the_echo_shows_what_was_attached(tmp_path: Path) -> None:
    picture = png_file(tmp_path / "p.png", size=16)
    out = io.StringIO()
    sink = ConsoleSink(out, numbering())

    sink.echo(sent(session().parse(f":photo {picture} look")).incoming)

    size = picture.stat().st_size
    assert out.getvalue() == (
        f"[10] You (100): [image {picture}, image/png, 16×16, {size} bytes] look\n"
    )


async def test_an_answer_left_unfinished_does_not_silence_the_console() -> None:
    # An answer that went live and was never finished used to hold every later line forever.
    out = io.StringIO()
    sink = ConsoleSink(out, numbering(1))
    stream = sink.stream("100", None)
    await stream.update("half an ans")
    await sink.send("1", "a notice for the admin")
    assert "a notice" not in out.getvalue()  # it waits for the live answer's line
    sink.abandon("200", None)  # another chat's message: not this answer
    assert "a notice" not in out.getvalue()
    sink.abandon("100", None)  # its message is handled: it will never be finished
    assert "half an ans [unfinished]\n" in out.getvalue()
    assert "a notice for the admin" in out.getvalue()
    await sink.send("100", "the next answer")
    assert out.getvalue().endswith("bot → user 100: the next answer\n")


def test_short_numbers_stand_for_long_ids() -> None:
    numbers = short_numbering(1_796_329_457_959)
    console = ConsoleSession(admin_id="1", bot_username="gptbot", ids=numbers)
    out = io.StringIO()
    sink = ConsoleSink(out, numbers)

    first = sent(console.parse("hello")).incoming
    sink.echo(first)
    answer = sink.new_id()
    reply = sent(console.parse(f">{numbers.shown(answer)} and more")).incoming
    sink.echo(reply)
    earlier = sent(console.parse(">1796329000000 from an earlier run")).incoming

    assert first.message_id == "1796329457959"  # the store keeps ids unique across runs
    assert reply.reply_to == answer == "1796329457960"
    assert earlier.reply_to == "1796329000000"  # an id typed whole still works
    assert out.getvalue() == "[1] You (100): hello\n[3] You (100) ↪ 2: and more\n"


def test_ids_that_are_short_already_are_shown_as_they_are() -> None:
    console = session()
    reply = sent(console.parse(">4 hi")).incoming
    assert (reply.message_id, reply.reply_to) == ("10", "4")


def test_a_user_spoken_as_again_keeps_name_and_language() -> None:
    console = session()
    console.parse(":lang ru")
    console.parse(":user 200 Bob")
    bob = sent(console.parse("hi")).incoming.sender
    console.parse(":lang en")
    console.parse(":user 100")
    you = sent(console.parse("hi")).incoming.sender
    console.parse(":user 200")
    bob_again = sent(console.parse("hi")).incoming.sender
    console.parse(":user 300")
    stranger = sent(console.parse("hi")).incoming.sender

    assert (you.name, you.language) == ("You", "ru")  # not renamed "User 100"
    assert (bob.name, bob.language) == ("Bob", "ru")  # the console's language: the last :lang
    assert (bob_again.name, bob_again.language) == ("Bob", "en")
    assert (stranger.name, stranger.language) == (None, "en")  # no name made up for them


def test_what_a_terminal_would_obey_is_printed_escaped() -> None:
    out = io.StringIO()
    sink = ConsoleSink(out, numbering())
    sink.write("a\x1b[2Jb\rc\x07d\u202eé\tf\n")
    assert out.getvalue() == "a\\x1b[2Jb\\rc\\x07d\\u202eé\tf\n"
    assert visible("line\nnext") == "line\nnext"


async def test_the_pictures_directory_is_the_owners_only(tmp_path: Path) -> None:
    made = tmp_path / "new.pictures"
    older = tmp_path / "old.pictures"
    older.mkdir(mode=0o755)
    older.chmod(0o755)  # as an earlier version left it
    for directory in (made, older):
        sink = ConsoleSink(io.StringIO(), numbering(), pictures=directory)
        await sink.send_picture("100", Picture(pattern_png("x", 8)), "")
        assert directory.stat().st_mode & 0o777 == 0o700
        assert (directory / "1.png").stat().st_mode & 0o777 == 0o600


async def test_an_offered_button_shows_the_command_to_type() -> None:
    out = io.StringIO()
    sink = ConsoleSink(out, numbering(1))
    stream = sink.stream("100", None)
    await stream.update("Hello")  # live, then broken off
    await stream.finish("Hello\n\n(It broke.)", offer=Offer("Try again", "/retry 4"))
    assert out.getvalue().endswith("Hello\n\n(It broke.)\n[Try again: /retry]\n")
