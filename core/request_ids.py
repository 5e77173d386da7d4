"""The caller's X-Request-ID, kept only when it is a sane id: django-guid echoes it in the reply
and writes it into every log line of the request, so a 7,000-character or newline-laden value
would be repeated everywhere. Anything else is dropped, and django-guid makes a new id."""

import re

_ACCEPTED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_sanitize(get_response):
    def middleware(request):
        given = request.META.get("HTTP_X_REQUEST_ID")
        if given is not None and not _ACCEPTED.fullmatch(given):
            del request.META["HTTP_X_REQUEST_ID"]
        return get_response(request)

    return middleware
