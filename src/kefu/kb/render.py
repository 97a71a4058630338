"""Markdown to safe HTML, and Markdown to plain text for search and snippets.

markdown-it-py parses CommonMark with raw HTML turned off (a `<script>` in an article is
shown as text, never run); nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags,
attributes and URL schemes, and marks every link `rel="noopener nofollow"`. Two layers, so a
parser quirk alone cannot let markup through.
"""

from __future__ import annotations

import html as html_lib
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def to_html(markdown: str) -> str:
    raw = _parser().render(markdown)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener nofollow",
    )


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def to_text(markdown: str) -> str:
    """The words a reader sees, on one line: what search indexes and snippets quote."""
    html = to_html(markdown)
    text = _TAG.sub(" ", html)
    return _SPACE.sub(" ", html_lib.unescape(text)).strip()
