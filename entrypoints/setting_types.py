"""What every settings module shares: the error that names a bad setting, and secrets."""

from __future__ import annotations

import attrs


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


@attrs.frozen(repr=False)
class Secret:
    """A value that must not leak: ``str`` and ``repr`` show stars, ``reveal`` shows it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__
