"""One JSON error shape for every endpoint: {"error": <code>, "detail": <message>}.

DRF exceptions go through `api_exception_handler`; Django-level failures outside DRF
(unknown URLs, oversized uploads) go through the handlerXXX views.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 5


def error_body(code: str, detail, fields: dict | None = None) -> dict:
    body = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


class DatabaseUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "database_unavailable"
    default_detail = "The database is unavailable; nothing was stored. Retry shortly."


def api_exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        # PostgreSQL down or restarting: a 503 the sender retries, never a 500 and never a 202
        # for an event that was not stored (the transaction did not commit).
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
        exc.wait = DATABASE_RETRY_AFTER_SECONDS
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc = _unauthenticated_throttle(exc, context)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = {name: [str(m) for m in (v if isinstance(v, list) else [v])] for name, v in exc.detail.items()}
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        response.data = error_body("invalid", summary, fields)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if not isinstance(code, str):
            code = "invalid"
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if isinstance(detail, list):
            detail = " ".join(str(d) for d in detail)
        response.data = error_body(code, str(detail))
    return response


def _unauthenticated_throttle(exc, context):
    """Count a request without valid credentials against its IP; over the limit it is a 429.

    DRF checks throttles only after authentication and permissions pass, so anonymous callers
    and credential guessing would never meet a throttle without this.
    """
    from .throttling import UnauthenticatedRateThrottle

    throttle = UnauthenticatedRateThrottle()
    if throttle.allow_request(context["request"], context.get("view")):
        return exc
    return exceptions.Throttled(
        wait=throttle.wait(), detail="Too many requests without valid credentials from this address."
    )


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("permission_denied", "You may not access this resource."), status=403)


def page_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)
