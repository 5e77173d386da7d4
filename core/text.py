"""Member-supplied text made safe to show as one line: what every output (email, Teams card,
report, CSV) applies before it displays a name, title, company or country; and how long each of
those texts may be where the service keeps it."""

from __future__ import annotations

import re

# The longest member texts the service keeps: a username, country or company (the members' and
# detections' columns) and a job title (a text column: the webhook's limit). One home for every
# side that checks or cuts them: the webhook (detections.payloads), the inSided profile mapping
# (integrations.insided.profiles), which imports no app.
MAX_NAME_LENGTH = 255
MAX_TITLE_LENGTH = 1000

# C0/C1 controls and Unicode line/paragraph separators: they break lines or terminals.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidirectional formatting characters (Unicode UAX #9: embeddings, overrides, isolates, marks):
# a right-to-left override makes "gnp.exe" read "exe.png" and reorders what follows it.
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def bidi_strip(text: str) -> str:
    """The text without bidirectional formatting characters (they are invisible; the letters stay)."""
    return _BIDI.sub("", text)


def bidi_strip_html(html: str) -> str:
    """An HTML page without bidirectional formatting characters. Member-supplied text reaches the
    admin's pages through many templates (lists, forms, breadcrumbs, messages, delete pages): one
    pass over the page reaches them all. No markup of ours uses them."""
    return _BIDI.sub("", html)


def one_line(text: str | None, limit: int = 300) -> str:
    """One line of plain text: controls and bidi formatting out, whitespace collapsed, capped."""
    return text_cut(" ".join(_CONTROL.sub(" ", bidi_strip(text or "")).split()), limit)


def text_cut(text: str, limit: int) -> str:
    """The text if it has at most `limit` characters, else cut to `limit` with "…" as the last,
    so whoever reads it sees that there was more."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
