"""Rich text and URLs that teachers type, made safe to show to learners.

Pages are HTML written by teachers and shown inside the LMS. They are cleaned with Ammonia (nh3)
against an allow-list when saved and again when rendered, so a page stored before a rule changed,
or written to the database by other means, still cannot run script in a learner's browser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3

# Well under the 500 kB a form field may carry (Flask's MAX_FORM_MEMORY_SIZE).
MAX_HTML_CHARS = 100_000
MAX_URL_CHARS = 2000

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dl", "dt",
    "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
# Headings start at h2: the page title is the page's h1.
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start", "reversed"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "*": {"lang", "dir"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def clean_html(html: str) -> str:
    """An allow-listed copy of `html`: no scripts, styles, event handlers, frames or javascript: URLs."""
    return nh3.clean(
        html or "",
        tags=TAGS,
        # These disappear with their content; other unknown tags keep their text.
        clean_content_tags={"script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        # A relative URL would resolve against the tool inside the LMS frame: never what was meant.
        url_relative="deny",
        strip_comments=True,
    ).strip()


def html_has_text(html: str) -> bool:
    """Whether cleaned HTML shows anything (text or an image)."""
    if "<img" in html:
        return True
    return bool(nh3.clean(html, tags=set()).strip())


def check_web_url(value: str) -> str:
    """An absolute http(s) URL with a host, or ValueError saying what is wrong."""
    value = (value or "").strip()
    if not value:
        raise ValueError("Enter the web address to link to.")
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"The web address is longer than {MAX_URL_CHARS} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("The web address must not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("This is not a valid web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Only web addresses starting with https:// or http:// can be linked.")
    if not parts.hostname:
        raise ValueError("The web address needs a host name, like https://example.org/page.")
    if parts.username or parts.password:
        raise ValueError("The web address must not contain a user name or password.")
    return value
