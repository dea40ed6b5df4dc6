"""Voice, pictures, files, /image and /model from the console: offline, and against real
OpenAI-compatible servers (LLMock for chat and pictures, the tests' media server for speech).

The files are real: speech synthesised by espeak-ng and encoded as OGG/Opus like Telegram's
voice notes, a PNG, a Markdown file and a PDF written by pypdf.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from llmock.pytest_plugin import LLMock
from pypdf import PdfWriter

from entrypoints.console import run_console
from entrypoints.settings import settings_from
from tests.media import png, speech_ogg
from tests.servers.openai_media import MediaServer

pytestmark = pytest.mark.slow  # the console bot in subprocesses, with media servers

KEY = "sk-test-console-media-0123456789"
QUESTION = "what is the capital of France"
_SHOWN = re.compile(r"(?:Tokens used: |\(\d+(?:\.\d)? s, )≈?(\d[\d ]*)")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    notes = folder / "notes.md"
    notes.write_text("# Shopping\n- milk\n- bread\n", encoding="utf-8")
    pdf = folder / "empty.pdf"
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    with pdf.open("wb") as out:
        writer.write(out)
    return {
        "voice": speech_ogg(QUESTION, folder / "question.ogg"),
        "photo": png(64, 48, folder / "red.png"),
        "notes": notes,
        "pdf": pdf,
    }


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    with MediaServer.running() as server:
        yield server


async def console(tmp_path: Path, script: str, **env: str) -> str:
    settings = settings_from({"OFFLINE_DELAY": "0", "ADMIN_CHAT_ID": "1", **env}, tmp_path)
    out = io.StringIO()
    assert await run_console(settings, io.StringIO(script), out) == 0
    return out.getvalue()


def account(tmp_path: Path, user_id: str = "100") -> dict[str, object]:
    entry: dict[str, object] = json.loads((tmp_path / "data.json").read_text())[user_id]
    return entry


def charges(output: str) -> int:
    """The sum of every charge the bot showed: footers, transcripts, pictures."""
    return sum(int(m.group(1).replace(" ", "")) for m in _SHOWN.finditer(output))


async def test_everything_works_offline(tmp_path: Path, files: dict[str, Path]) -> None:
    script = (
        f":photo {files['photo']} what is this?\n"
        ">3 and the colours?\n"
        f":voice {files['voice']}\n"
        f":file {files['notes']} summarise\n"
        f":file {files['pdf']}\n"
        "/image a red fox\n"
        "/model\n"
    )
    out = await console(tmp_path, script)
    # the picture, then again for the reply to its answer
    assert "With your message I received 1 picture(s): image/png 64×48" in out
    assert re.search(r"Turn 1, user: «what is this\?» with 1 picture", out), out
    # the recording: the offline transcriber says what it got, quoted and charged by length
    assert re.search(r"🎤 “\(offline transcriber: a \d\.\d s recording, question\.ogg", out)
    assert "You said: «summarise [File: notes.md] # Shopping - milk - bread" in out
    assert "I found no text in empty.pdf" in out
    picture = re.search(r"\[picture (\S+\.png), image/png, 256×256, [^\]]+\] a red fox", out)
    assert picture is not None, out
    assert Path(picture.group(1)).read_bytes().startswith(b"\x89PNG")
    assert "• offline — ×1 (yours), sees pictures" in out
    user = account(tmp_path)
    assert user["balance"] == 30_000 - charges(out)
    assert user["tokens"] == charges(out)
    assert user["requests"] == 6  # 3 answers, a transcript, its answer, a picture


async def test_voice_and_pictures_through_openai_compatible_servers(
    tmp_path: Path, files: dict[str, Path], llm: LLMock, media_server: MediaServer
) -> None:
    media_server.say(QUESTION)
    llm.reply("Paris.")
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": llm.base_url("openai"),
        "TRANSCRIPTION_BASE_URL": media_server.base_url,
        # Windows given: a proxy at another address reports none (4 096 would be assumed).
        "MODELS": "gpt-6-luna vision window=128000; gpt-6-dear price=3 window=128000",
        "OPENAI_MAX_RETRIES": "0",
        "IMAGE_PRICE": "700",
    }
    out = await console(tmp_path, f":voice {files['voice']}\n", **env)
    upload = media_server.received[-1].files["file"]
    assert upload.data == files["voice"].read_bytes()
    assert (upload.name, upload.mime) == ("question.ogg", "audio/ogg")
    assert f"🎤 “{QUESTION}”" in out
    assert llm.last_request.body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert "Paris." in out
    spent = charges(out)
    assert account(tmp_path)["balance"] == 30_000 - spent

    out = await console(tmp_path, f":photo {files['photo']} what is this?\n", **env)
    content = llm.last_request.body["messages"][-1]["content"]
    encoded = base64.b64encode(files["photo"].read_bytes()).decode()
    assert content == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
    ]
    spent += charges(out)

    out = await console(tmp_path, "/model gpt-6-dear\n/image a lighthouse\n", **env)
    assert "Your model is now gpt-6-dear." in out
    assert "a lighthouse\n\nTokens used: 700" in out
    assert llm.last_request.body["prompt"] == "a lighthouse"
    spent += 700

    media_server.fail(500)
    out = await console(tmp_path, f":voice {files['voice']}\n", **env)
    assert "Your recording could not be transcribed." in out
    assert account(tmp_path)["balance"] == 30_000 - spent
    assert json.loads((tmp_path / "data.json").read_text())["100"]["lang_model"] == "gpt-6-dear"
