"""What the bot knows about model names: their tokenizer, their context window, whether they see.

Names are matched by prefix after any provider or fine-tune decoration ("openai/gpt-4o",
"ft:gpt-4o-mini:org::id"), so dated snapshots ("gpt-4o-2024-08-06") match their family.
A name not recognised here is a local or other provider's model: the bot then counts with the
calibrated heuristic. A name says nothing of a server other than OpenAI's: llama.cpp serves any
model under any name, with the window it was started with. There the window is the one the
server reports (``adapters.models.openai.server``), else the operator's, else 4 096.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

O200K = "o200k_base"
CL100K = "cl100k_base"

# llama.cpp's, Ollama's and LM Studio's usual default context: the safe assumption for a model
# nobody told the bot about.
UNKNOWN_WINDOW = 4_096
# The smallest window of OpenAI's current chat models: assumed for a newer name this table does
# not list yet (gpt-6-luna, say), as a floor.
NEWER_OPENAI_WINDOW = 128_000

# First match wins: more specific names before their family.
_WINDOWS: tuple[tuple[str, int], ...] = (
    (r"gpt-3\.5-turbo-instruct", 4_096),
    (r"gpt-3\.5|gpt-35", 16_385),
    (r"gpt-4\.1", 1_047_576),
    (r"gpt-4\.5|gpt-4o|chatgpt-4o", 128_000),
    (r"gpt-4-32k", 32_768),
    (r"gpt-4-(turbo|\d{4}-preview|vision)", 128_000),
    (r"gpt-4(-\d{4})?$", 8_192),
    (r"o1-mini", 128_000),
    (r"o[1-9]", 200_000),
    (r"gpt-5[.\d]*-chat", 128_000),
    (r"gpt-5", 400_000),
    (r"gpt-oss", 131_072),
)

_NEWER_OPENAI = re.compile(r"(gpt-([5-9]|\d{2,})|o[1-9])(\b|[-.])")
_O200K = re.compile(r"gpt-4o|gpt-4\.[15]|chatgpt-4o|gpt-oss|codex-")
_CL100K = re.compile(r"gpt-4|gpt-3\.5|gpt-35")


def base_name(model: str) -> str:
    """The model's own name: no provider prefix, no fine-tune decoration, lower case."""
    name = model.strip().lower()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name.rsplit("/", 1)[-1]


def encoding_name(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model, or None for any other model."""
    name = base_name(model)
    if _O200K.match(name) or _NEWER_OPENAI.match(name):
        return O200K
    if _CL100K.match(name):
        return CL100K
    return None


def context_window(model: str) -> int | None:
    """The context window (prompt and answer together) of a known model, else None."""
    name = base_name(model)
    for pattern, window in _WINDOWS:
        if re.match(pattern, name):
            return window
    if _NEWER_OPENAI.match(name):
        return NEWER_OPENAI_WINDOW
    return None


# OpenAI's own API, and Azure's deployments of it: the servers where a model's name says what
# the model is.
_OFFICIAL_HOSTS = ("api.openai.com",)
_OFFICIAL_HOST_SUFFIXES = (".openai.azure.com",)


def on_openai(base_url: str | None) -> bool:
    """Whether ``base_url`` (None: the SDK's default) is OpenAI's own API."""
    if base_url is None:
        return True
    host = (urlsplit(base_url).hostname or "").lower()
    return host in _OFFICIAL_HOSTS or host.endswith(_OFFICIAL_HOST_SUFFIXES)


def resolve_window(
    model: str, configured: int | None, base_url: str | None = None, reported: int | None = None
) -> int:
    """The window to fit budgets in: the operator's setting, else what the server
    ``reported``, else on OpenAI's API the table, else 4 096, since a name on another server
    says nothing of the window that server was started with."""
    if configured is not None:
        return configured
    if reported is not None:
        return reported
    known = context_window(model) if on_openai(base_url) else None
    return UNKNOWN_WINDOW if known is None else known


# Models known to take pictures: OpenAI's vision families (not o1-mini, o3-mini, gpt-oss, gpt-3.5
# or the first gpt-4), newer OpenAI names, and the usual vision models of other providers and of
# local servers. A guess from the name only, made for OPENAI_MODEL on OpenAI's API alone: a
# MODELS entry says "vision" itself (a local server may serve a "llava" without its projector).
_NOT_VISION = re.compile(
    r"o1-(mini|preview)|o3-mini|gpt-oss|gpt-4-turbo-preview|gpt-4-\d{4}-preview"
)
_VISION = re.compile(
    r"gpt-4o|chatgpt-4o|gpt-4\.[15]|gpt-4-turbo|gpt-4-vision|o[134]\b|o[134]-|"
    r"claude-|gemini|pixtral|llava|bakllava|moondream|minicpm-v|internvl|gemma-?3|llama-?4|"
    r"mistral-small-?3\.[12]|.*vision|.*-vl\b|.*-vl-|.*vl:|qwen[\d.]*-?vl"
)


def sees_pictures(model: str) -> bool:
    """Whether the model can most likely be sent pictures, from its name."""
    name = base_name(model)
    if _NOT_VISION.match(name):
        return False
    return bool(_VISION.match(name) or _NEWER_OPENAI.match(name))
