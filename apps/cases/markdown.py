"""Notes are Markdown: rendered to HTML, then sanitised with an allow-list (nh3, the Ammonia sanitiser).

Markdown passes raw HTML through, so the sanitiser, not the Markdown parser, is what stands between a note and the
page: only the tags below survive, with only the attributes below, and links only to web and mail addresses.
Scripts, event handlers, styles, iframes and ``javascript:`` URLs never do.
"""

from __future__ import annotations

import re

import markdown  # type: ignore[import-untyped]
import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# "@username" mentions; usernames as Django allows them (letters, digits and @.+-_), not preceded by a word
# character so that e-mail addresses are not read as mentions.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]+[\w+-]|[\w])", re.UNICODE)


def markdown_render(text: str) -> str:
    """The note as HTML that is safe to put on a page as it is."""
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def mentioned_usernames(text: str) -> set[str]:
    return {match.group(1) for match in MENTION.finditer(text)}
