"""Purchases as data.json and the stores share them.

data.json keeps them inside the totals' ``"global"`` object, under ``"purchases"`` (the older
bot reads every other top-level key as a user, and never looks at this one), by charge id:

    "purchases": {"stxABC": {"user": "123", "stars": 50, "tokens": 100000,
                             "at": "2026-01-05 10:11:12", "refunded_at": null}}

A journal record that credits or refunds one carries it whole under ``"purchase"`` (with its
``"charge"``), beside the payer's account: one line, so both are durable together or neither.

The tokens charged each day are tallied beside them, under ``"usage"`` (``{"2026-01-05":
12345}``), by the record of each charge (``"usage": {"<day>": <that day's new total>}``), for
the operator's view (/stats, /usage, ``gptbot export --usage``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from core.values import Account, Purchase

KEY = "purchases"
RECORD_KEY = "purchase"
USAGE_KEY = "usage"


def credited(account: Account, tokens: int) -> Account:
    """``account`` with ``tokens`` added to its balance (taken away when negative: a refund may
    leave it below zero)."""
    return attrs.evolve(account, balance=account.balance + tokens)


def by_time(purchase: Purchase) -> tuple[dt.datetime, str]:
    return (purchase.at, purchase.charge_id)


def to_json(purchase: Purchase) -> dict[str, Any]:
    refunded = purchase.refunded_at
    return {
        "user": purchase.user_id,
        "stars": purchase.stars,
        "tokens": purchase.tokens,
        "at": purchase.at.isoformat(" "),
        "refunded_at": None if refunded is None else refunded.isoformat(" "),
    }


def from_json(charge_id: str, value: Any) -> Purchase | None:
    """The purchase written by ``to_json``; None for what is not one (a hand edit gone wrong is
    logged by the caller and kept as it is, never guessed at)."""
    if not isinstance(value, dict):
        return None
    user, stars, tokens = value.get("user"), value.get("stars"), value.get("tokens")
    if not (isinstance(user, str) and type(stars) is int and type(tokens) is int):
        return None
    try:
        at = dt.datetime.fromisoformat(value.get("at") or "")
        refunded_raw = value.get("refunded_at")
        refunded = None if refunded_raw is None else dt.datetime.fromisoformat(refunded_raw)
    except (TypeError, ValueError):
        return None
    return Purchase(charge_id, user, stars, tokens, at, refunded)


def days_from_json(value: Any) -> dict[dt.date, int]:
    """The day tally written under ``USAGE_KEY``; what cannot be read is left out."""
    if not isinstance(value, dict):
        return {}
    found = {}
    for day, tokens in value.items():
        try:
            found[dt.date.fromisoformat(day)] = int(tokens)
        except (TypeError, ValueError):
            continue
    return found


def all_from_json(value: Any) -> dict[str, Purchase]:
    if not isinstance(value, dict):
        return {}
    found = {}
    for charge_id, entry in value.items():
        purchase = from_json(charge_id, entry)
        if purchase is not None:
            found[charge_id] = purchase
    return found
