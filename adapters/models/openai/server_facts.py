"""What a server other than OpenAI's says of itself: the context window it was started with.

A local server serves any model under any name, so the name tells nothing of its window; the
server does. llama.cpp's ``/props`` has ``default_generation_settings.n_ctx`` (the window of one
slot; older builds put ``n_ctx`` at the top); vLLM lists ``max_model_len`` in ``/v1/models``,
OpenRouter ``context_length``. A server that answers none of these reports nothing (None), and
the bot assumes the safe 4 096 unless told (``adapters.models.openai.facts.resolve_window``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx

log = logging.getLogger(__name__)

# A start-up question: a server that is slow to answer it is asked nothing more.
PROBE_TIMEOUT = 3.0
# Bounds of a believable window: anything else is a server's bug, not a window.
_SMALLEST, _LARGEST = 64, 100_000_000


async def reported_window(
    base_url: str,
    api_key: str | None,
    model: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int | None:
    """The window (tokens) the server at ``base_url`` reports for ``model``; None when it says
    nothing or cannot be asked. Never raises for the server's sake: the answer is a hint."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    root = base_url.rstrip("/")
    async with httpx.AsyncClient(
        timeout=PROBE_TIMEOUT, headers=headers, transport=transport, follow_redirects=False
    ) as client:
        for url, read in (
            (_without_version(root) + "/props", _from_props),
            (root + "/models", lambda body: _from_models(body, model)),
        ):
            try:
                response = await client.get(url)
                if response.status_code != 200:
                    continue
                window = read(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.info("could not ask %s for its window: %r", url, exc)
                continue
            if window is not None:
                log.info("the server at %s reports a window of %d tokens", root, window)
                return window
    return None


def _without_version(root: str) -> str:
    """llama.cpp serves ``/props`` beside ``/v1``, not under it."""
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _from_props(body: object) -> int | None:
    if not isinstance(body, Mapping):
        return None
    settings = body.get("default_generation_settings")
    per_slot = _window(settings.get("n_ctx")) if isinstance(settings, Mapping) else None
    return per_slot if per_slot is not None else _window(body.get("n_ctx"))


def _from_models(body: object, model: str) -> int | None:
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Sequence):
        return None
    listed = [entry for entry in data if isinstance(entry, Mapping)]
    # The model by its name; a server that serves one model serves it under any name.
    named = [entry for entry in listed if entry.get("id") == model]
    chosen = named or (listed if len(listed) == 1 else [])
    for entry in chosen:
        for key in ("max_model_len", "context_length"):
            window = _window(entry.get(key))
            if window is not None:
                return window
    return None


def _window(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and _SMALLEST <= value <= _LARGEST:
        return value
    return None
