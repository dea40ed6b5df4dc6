"""The contract's values this adapter needs before core/values.py has them (core v2).

Core v2 adds ``Hold(user_id, amount, id)`` and ``Account.banned`` and makes every id a string.
Until then: ``Hold`` is defined here, and accounts and nodes are built with string ids through
``account`` and ``node``, which pass ``banned`` only to an Account that has the field. When
core/values.py has them, import Hold from there, call Account and Node directly, and delete
this module.
"""

from __future__ import annotations

from typing import Any

import attrs

from core.values import Account, Node


@attrs.frozen
class Hold:
    """Tokens held for one request in flight (core v2's ``core.values.Hold``)."""

    user_id: str
    amount: int
    id: str


_HAS_BANNED = "banned" in attrs.fields_dict(Account)


def account(**fields: Any) -> Account:
    """An Account from the contract's fields (string id, ``banned``)."""
    if not _HAS_BANNED:
        fields.pop("banned", None)
    return Account(**fields)


def banned(value: Account) -> bool:
    return bool(getattr(value, "banned", False))


def node(**fields: Any) -> Node:
    """A Node from the contract's fields (string ids, role may be None)."""
    return Node(**fields)
