"""The README's llama.cpp recipe against a real llama.cpp: llama-cpp-python's server with a tiny
random-weights model written here (tests/e2e/tiny_gguf.py; nothing is downloaded).

llama-cpp-python compiles llama.cpp when installed (most of an hour on two cores), so it is not
among the dev dependencies: this test runs when ``LLAMA_CPP_PYTHON`` names a Python that has
``llama-cpp-python[server]`` and ``gguf``, and is skipped otherwise::

    python -m venv /tmp/llama && /tmp/llama/bin/pip install 'llama-cpp-python[server]' gguf
    LLAMA_CPP_PYTHON=/tmp/llama/bin/python pytest tests/e2e/test_real_llama_cpp.py

Its server answers a prompt over its window with HTTP 200 and an empty stream, and reports no
window: the bot assumes 4 096. Its tokenizer here is one token a byte.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrypoints.console import run_console
from entrypoints.settings import settings_from

PYTHON = os.environ.get("LLAMA_CPP_PYTHON", "")
pytestmark = pytest.mark.skipif(not PYTHON, reason="LLAMA_CPP_PYTHON is not set")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def llama_cpp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("llama")
    model = folder / "tiny.gguf"
    subprocess.run([PYTHON, str(Path(__file__).with_name("tiny_gguf.py")), str(model)], check=True)
    port = free_port()
    command = [PYTHON, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "4096"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/models").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


async def console(tmp_path: Path, base_url: str, script: str, model: str) -> str:
    env = {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MODEL": model,  # blank: the default, gpt-6-luna, as the recipe once left it
        "OPENAI_API_KEY": "anything",
        "ADMIN_CHAT_ID": "1",
    }
    out = io.StringIO()
    assert await run_console(settings_from(env, tmp_path), io.StringIO(script), out) == 0
    return out.getvalue()


@pytest.mark.parametrize("model", ["local", ""])
async def test_an_over_long_file_is_too_long_for_the_model(
    llama_cpp: str, tmp_path: Path, model: str
) -> None:
    # 6 000 bytes: 2 400 tokens by the heuristic, fewer by gpt-6-luna's tokenizer (under the
    # 3 072 of prompt in 4 096), 6 000 by the server's.
    report = tmp_path / "report.txt"
    report.write_text(("international development " * 400)[:6_000], encoding="utf-8")
    out = await console(tmp_path, llama_cpp, f":file {report}\nhello\n", model)

    assert "too long for the model" in out
    assert "try again" not in out.lower()
    assert "Tokens used" in out  # and the next message is answered
