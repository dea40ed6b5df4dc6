"""Files that lie about what they are, sent from the console to the bot built as in
production (offline models): a text file named .png, a voice note whose pages claim one second
of its two, an empty and a textual .ogg, and a 10 KB PDF that costs pypdf 27 s. Each is
refused plainly before anything is held, or charged by what it really holds."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from adapters.media.headers import opus_seconds
from tests.documents import hostile_pdf
from tests.e2e.test_console_media import QUESTION, account, charges, console
from tests.media import forge_length, ogg_opus_seconds, speech_ogg

NOT_A_PICTURE = "Your file does not seem to be a picture I can show the model"
NOT_A_RECORDING = "Your file does not seem to be a sound recording I can measure and transcribe"


@pytest.fixture(scope="module")
def liars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("liars")
    real = speech_ogg(QUESTION, folder / "question.ogg").read_bytes()
    files = {
        "picture": folder / "photo.png",
        "forged": folder / "forged.ogg",
        "empty": folder / "empty.ogg",
        "text": folder / "text.ogg",
        "pdf": folder / "report.pdf",
    }
    files["picture"].write_text("not a picture, only its name\n" * 20, encoding="utf-8")
    files["forged"].write_bytes(forge_length(real, 1.0))
    files["empty"].write_bytes(b"")
    files["text"].write_text("no sound here\n" * 20, encoding="utf-8")
    files["pdf"].write_bytes(hostile_pdf())
    return files


async def test_fake_pictures_and_recordings_are_refused_before_any_charge(
    tmp_path: Path, liars: dict[str, Path]
) -> None:
    script = (
        f":photo {liars['picture']} what is this?\n"
        f":voice {liars['empty']}\n"
        f":voice {liars['text']}\n"
        f":file {liars['pdf']} summarise\n"
    )
    out = await console(tmp_path, script)

    assert out.count(NOT_A_PICTURE) == 1
    assert out.count(NOT_A_RECORDING) == 2
    assert "takes more time or memory to read than I allow" in out or "reading too many" in out
    assert "picture(s)" not in out  # the model never saw it
    assert "🎤" not in out  # nothing was transcribed
    assert "Tokens used" not in out
    user = account(tmp_path)
    assert (user["balance"], user["tokens"], user["requests"]) == (30_000, 0, 0)


async def test_a_forged_length_is_charged_by_the_measured_one(
    tmp_path: Path, liars: dict[str, Path]
) -> None:
    forged = liars["forged"].read_bytes()

    out = await console(tmp_path, f":voice {liars['forged']}\n")

    # The console declares what the pages claim, as a messenger passes on a client's claim.
    assert re.search(r"\[voice \S+forged\.ogg, audio/ogg, 1\.0 s", out), out
    measured = opus_seconds(forged)
    assert measured is not None
    tokens = math.ceil(measured * 10 - 1e-9)  # TRANSCRIPTION_TOKENS_PER_SECOND
    assert f"s, {tokens} tokens)" in out
    real = ogg_opus_seconds(liars["picture"].with_name("question.ogg").read_bytes())
    assert tokens >= math.floor(real * 10) > 10  # not the 10 tokens of the second declared
    user = account(tmp_path)
    assert user["balance"] == 30_000 - charges(out)
    assert user["tokens"] == charges(out)
