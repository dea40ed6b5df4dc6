"""The model's Markdown as Matrix's ``formatted_body``: HTML with every raw tag escaped.

markdown-it-py (CommonMark, maintained, the parser behind MyST and rich) with raw HTML off, so
a model writing ``<script>`` shows it as text, and its link validation, so ``javascript:``
links stay text. Tables and strikethrough are on, as GitHub's Markdown has them.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def to_html(markdown: str) -> str:
    html: str = _MARKDOWN.render(markdown)
    return html.strip()
