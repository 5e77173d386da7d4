"""Middleware shared by every app's pages."""

from __future__ import annotations

from .text import bidi_strip_html


def html_bidi_strip(get_response):
    """HTML pages (the admin, the API's browsable pages) without bidirectional formatting
    characters, as the outputs have them: a right-to-left override in a member's or an audience's
    name would reorder what an operator reads after it. JSON keeps the data as it is."""

    def middleware(request):
        response = get_response(request)
        if (
            not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and not response.has_header("Content-Length")
        ):
            charset = response.charset or "utf-8"
            response.content = bidi_strip_html(response.content.decode(charset, errors="replace")).encode(charset)
        return response

    return middleware
