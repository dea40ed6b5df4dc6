"""The access list as data.json and PostgreSQL keep it: inside the totals' ``"global"`` object,
under ``"access"``, where the older bot (which reads every other top-level key as a user) never
looks, and where ``gptbot import`` / ``export`` carry it with the other keys of ``global``.

    "access": {"users": ["123", "@ann"], "chats": ["-100500"],
               "seeded_users": ["123"], "seeded_chats": ["-100500"]}
"""

from __future__ import annotations

from typing import Any

from core.values import AccessList

KEY = "access"
_FIELDS = ("users", "chats", "seeded_users", "seeded_chats")


def to_json(access: AccessList) -> dict[str, list[str]]:
    return {field: sorted(getattr(access, field)) for field in _FIELDS}


def from_json(value: Any) -> AccessList:
    """The list written by ``to_json``; what is not a list of texts reads as empty (a hand
    edit gone wrong must not keep the bot from starting: the admin sees the list in /users)."""
    if not isinstance(value, dict):
        return AccessList()
    found: dict[str, frozenset[str]] = {}
    for field in _FIELDS:
        items = value.get(field)
        if isinstance(items, list):
            found[field] = frozenset(item for item in items if isinstance(item, str))
    return AccessList(**found)
