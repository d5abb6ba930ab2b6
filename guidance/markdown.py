"""Work instructions: Markdown written by admins, rendered to HTML that is safe to show.

markdown-it-py renders (raw HTML in the source is not passed through), then nh3 (the
Ammonia sanitiser) keeps only harmless tags and http(s)/mailto/tel links.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote",
    "h3", "h4", "h5", "table", "thead", "tbody", "tr", "th", "td", "hr",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@functools.lru_cache(maxsize=2048)
def render_markdown(text: str) -> str:
    html = RENDERER.render(text or "")
    return nh3.clean(
        html,
        tags=TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
