"""A password in a malformed DATABASE_URL is never printed: libpq quotes the address it cannot
parse, password included, and the bot used to pass that on to stderr (and, from the Telegram
entrypoint, in a traceback). Each URL goes through the real entrypoint, as an operator would
start it, with the most verbose log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Canary7x"  # each address below carries it, one way or another
ESCAPED = f"{PASSWORD[:3]}%{ord(PASSWORD[3]):02X}{PASSWORD[4:]}"  # the same, percent-encoded

MALFORMED = [
    f"postgresql://gptbot:{PASSWORD}@[::1/gptbot",  # an unclosed [ in the host
    f"postgresql://gptbot:{PASSWORD}@[127.0.0.1/gptbot?sslmode=require",
    f"postgresql://gptbot:{PASSWORD}%zz@127.0.0.1/gptbot",  # a bad percent escape
    f"postgresql://gptbot:{ESCAPED}@[h/db",
    f"postgresql://gptbot:{PASSWORD}@x{PASSWORD}@[h/db",  # a raw @ inside the password
    f"postgresql://gptbot@[h/db?password={PASSWORD}",  # the password as a parameter
    f"postgres://gptbot:{PASSWORD}@127.0.0.1:port/gptbot",
    f"postgresql://gptbot:{PASSWORD}@127.0.0.1:1/gptbot?nonsense=1",
]


def run(mode: str, url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PYTHONPATH": str(ROOT),
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": url,
        "LOG_LEVEL": "DEBUG",
        "OFFLINE_MODEL_DELAY": "0",
    }
    if mode == "telegram":  # enough to start: the database is opened before logging in
        env |= {
            "ADMIN_CHAT_ID": "5",
            "TELEGRAM_API_KEY": "123:abc",
            "TELEGRAM_API_ID": "1",
            "TELEGRAM_API_HASH": "abc",
        }
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", mode],
        input="hello\n",
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("mode", ["console", "telegram"])
@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_database_url_never_prints_its_password(
    mode: str, url: str, tmp_path: Path
) -> None:
    result = run(mode, url, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot connect to PostgreSQL" in result.stderr
    assert PASSWORD not in output
    assert ESCAPED not in output
    assert "Traceback" not in output
