"""A model's thinking told apart from its answer.

Servers give it in two ways: a ``reasoning_content`` (llama.cpp, DeepSeek) or ``reasoning``
(newer vLLM) field beside ``content`` in each delta, or, when the server does not parse it out,
inside the text itself between ``<think>`` and ``</think>`` (Qwen, DeepSeek-R1 distills on a
plain server). ``ThinkSplitter`` takes the text as it streams, in pieces that may cut a tag in
two, and hands back what is answer and what is thinking.
"""

from __future__ import annotations

from typing import Any

OPEN = "<think>"
CLOSE = "</think>"


def delta_reasoning(delta: Any) -> str:
    """The reasoning a chat-completions delta carries besides its content, or ""."""
    extra = getattr(delta, "model_extra", None) or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class ThinkSplitter:
    """Splits streamed text into (answer, thinking) as ``<think>…</think>`` blocks pass."""

    def __init__(self) -> None:
        self._thinking = False
        self._held = ""  # the end of the text so far that may be the start of a tag
        self._closed = False  # just after a </think>: the answer starts after its line break

    def feed(self, piece: str) -> tuple[str, str]:
        """The answer and the thinking in ``piece`` (and in what was held back before it)."""
        text = self._held + piece
        self._held = ""
        if self._closed and text:
            text = text.lstrip("\n")
            self._closed = not text
        answer: list[str] = []
        thinking: list[str] = []
        while text:
            tag = CLOSE if self._thinking else OPEN
            at = text.find(tag)
            if at < 0:
                keep = _partial_tag(text, tag)
                body, self._held = text[: len(text) - keep], text[len(text) - keep :]
                (thinking if self._thinking else answer).append(body)
                break
            (thinking if self._thinking else answer).append(text[:at])
            text = text[at + len(tag) :]
            self._thinking = not self._thinking
            if not self._thinking:
                text = text.lstrip("\n")
                self._closed = not text
        return "".join(answer), "".join(thinking)

    def flush(self) -> tuple[str, str]:
        """What was held back at the end of the stream (no tag after all)."""
        held, self._held = self._held, ""
        return ("", held) if self._thinking else (held, "")


def _partial_tag(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could be the start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
