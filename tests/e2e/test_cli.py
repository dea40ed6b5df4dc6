"""The ``gptbot`` command as a person first meets it."""

from __future__ import annotations

import pytest

from entrypoints import cli


def test_the_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.main(["--help"])
    assert ended.value.code == 0
    shown = capsys.readouterr().out
    assert "gptbot console" in shown
    assert "``" not in shown  # no reStructuredText markup
