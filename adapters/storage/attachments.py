"""A node's attachments as one text column, shared by the SQLite and PostgreSQL thread stores.

    [{"kind": "image", "ref": "42", "mime": "image/jpeg", "size": 0, "width": 1280}]

A JSON list with one object per attachment: ``kind`` and ``ref`` always, each other field only
when it is not None, so None and 0 stay apart. A node without attachments stores NULL and costs
nothing. Text is written with ASCII escapes, so any Python string comes back as it was (a lone
surrogate included) and the value fits any text column (PostgreSQL's text refuses NUL bytes;
``\\u0000`` is six ASCII characters). Floats are written as ``repr`` writes them, which reads
back as the same float.

Reply chains are context, not money: a value that cannot be read (a damaged database, a kind
a newer version wrote) costs the pictures it describes, never the node, and is logged.
"""

from __future__ import annotations

import json
import logging

from core.values import Attachment, MediaKind

log = logging.getLogger(__name__)

_OPTIONAL = ("mime", "name", "size", "duration", "width", "height")


def encode(attachments: tuple[Attachment, ...]) -> str | None:
    """The column's value: None when there are no attachments."""
    if not attachments:
        return None
    return json.dumps([_object(each) for each in attachments], separators=(",", ":"))


def _object(attachment: Attachment) -> dict[str, object]:
    found: dict[str, object] = {"kind": str(attachment.kind), "ref": attachment.ref}
    for field in _OPTIONAL:
        value = getattr(attachment, field)
        if value is not None:
            found[field] = value
    return found


def decode(text: object) -> tuple[Attachment, ...]:
    """The attachments of a column's value; () for NULL. One that cannot be read is left out."""
    if text is None or text == "":
        return ()
    if not isinstance(text, str):
        log.warning("a reply-chain node's attachments are not text (%.80r); left out", text)
        return ()
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        log.warning("a reply-chain node's attachments are not JSON (%s); left out", exc)
        return ()
    if not isinstance(items, list):
        log.warning("a reply-chain node's attachments are not a list (%.80r); left out", items)
        return ()
    found = []
    for item in items:
        try:
            found.append(_attachment(item))
        except ValueError as exc:
            log.warning("a reply-chain node's attachment cannot be read (%s); left out", exc)
    return tuple(found)


def _attachment(item: object) -> Attachment:
    if not isinstance(item, dict):
        raise ValueError(f"an attachment must be an object, found {item!r:.80}")
    kind, ref = item.get("kind"), item.get("ref")
    if not isinstance(kind, str) or not isinstance(ref, str):
        raise ValueError(f"its kind and ref must be text, found {kind!r:.40} and {ref!r:.40}")
    return Attachment(
        kind=MediaKind(kind),  # ValueError for a kind this version does not know
        ref=ref,
        mime=_text(item, "mime"),
        name=_text(item, "name"),
        size=_whole(item, "size"),
        duration=_number(item, "duration"),
        width=_whole(item, "width"),
        height=_whole(item, "height"),
    )


def _text(item: dict[str, object], field: str) -> str | None:
    value = item.get(field)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"its {field} must be text, found {value!r:.80}")
    return value


def _whole(item: dict[str, object], field: str) -> int | None:
    value = item.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"its {field} must be a whole number, found {value!r:.80}")
    return value


def _number(item: dict[str, object], field: str) -> float | None:
    """A float as written; a whole number stays an int (it was one when encoded)."""
    value = item.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"its {field} must be a number, found {value!r:.80}")
    return value
