"""The Matrix bot's settings: what is missing is named, ids are checked, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.matrix import matrix_login
from entrypoints.settings import ConfigError, load_environment

EXAMPLE_ENV = Path(__file__).parents[2] / "example.env"
GOOD = {
    "MATRIX_HOMESERVER": "https://matrix.example.org/",
    "MATRIX_USER_ID": "@gptbot:example.org",
    "MATRIX_ADMIN": "@me:example.org",
    "MATRIX_PASSWORD": "hunter2",
}


def test_a_complete_login_is_read_and_its_secrets_are_not_shown(tmp_path: Path) -> None:
    login = matrix_login(GOOD, tmp_path)
    assert login.homeserver == "https://matrix.example.org"
    assert login.token_file == tmp_path / "matrix.token"
    assert login.password is not None
    assert login.password.reveal() == "hunter2"
    assert "hunter2" not in repr(login)


def test_what_is_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MATRIX_ADMIN, MATRIX_ACCESS_TOKEN"):
        matrix_login(
            {k: v for k, v in GOOD.items() if k not in {"MATRIX_ADMIN", "MATRIX_PASSWORD"}},
            tmp_path,
        )


@pytest.mark.parametrize("bad", ["gptbot", "@gptbot", "gptbot:example.org"])
def test_user_ids_are_matrix_ids(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MATRIX_USER_ID is a Matrix user id"):
        matrix_login(GOOD | {"MATRIX_USER_ID": bad}, tmp_path)


def test_example_env_documents_the_matrix_settings(tmp_path: Path) -> None:
    text = EXAMPLE_ENV.read_text(encoding="utf-8")
    for name in GOOD | {
        "MATRIX_ACCESS_TOKEN": "",
        "MATRIX_TOKEN_FILE": "",
        "MATRIX_EDIT_INTERVAL": "",
    }:
        assert f"\n{name}=" in text, name
    with pytest.raises(ConfigError, match="needs MATRIX_HOMESERVER"):  # empty until filled in
        matrix_login(load_environment(EXAMPLE_ENV), tmp_path)
