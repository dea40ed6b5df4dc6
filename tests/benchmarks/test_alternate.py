"""The alternating comparison runs end to end (a smoke run, this tree against itself)."""

from __future__ import annotations

import pytest

from tests.benchmarks import alternate


@pytest.mark.slow
def test_two_versions_alternate_and_their_medians_are_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert alternate.main([str(alternate.ROOT), "--runs", "1", "--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "run 1 this",
        "run 1 other",
        "median walk (ms)",
        "median start-up (s)",
        "median conversations (s)",
        "median throughput (msg/s)",
    ]
    for line in lines[2:]:
        for figure in line.split(": ")[1].split(", "):
            assert float(figure.split()[1]) > 0
