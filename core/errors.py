"""One JSON error shape for every endpoint: {"error": <code>, "detail": <message>, "fields": {...}}.

DRF views go through `api_exception_handler`, the webhook (a plain view) through `error_reply`;
both word errors with `error_data`. Django-level failures outside them (unknown URLs, oversized
uploads) go through the handlerXXX views.
"""

import logging
import math

from django.core.exceptions import DisallowedHost
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)
# Where Django logs a refused Host for every other view (django.core.handlers.exception).
_host_logger = logging.getLogger("django.security.DisallowedHost")
DATABASE_RETRY_AFTER_SECONDS = 5


def error_body(code: str, detail, fields: dict | None = None) -> dict:
    body = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


class HostNotAllowed(exceptions.APIException):
    status_code = 400
    default_code = "disallowed_host"
    default_detail = "The Host header names no host this service answers to (ALLOWED_HOSTS)."


class DatabaseUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "database_unavailable"
    default_detail = "The database is unavailable; nothing was stored. Retry shortly."


def api_exception(exc: Exception, request) -> Exception:
    """The error to answer for `exc`.

    PostgreSQL down or restarting: a 503 the sender retries, never a 500 and never a 202 for an
    event that was not stored (the transaction did not commit). Missing or wrong credentials, and
    requests refused for lack of permission, are counted against the caller's address; past the
    limit they are a 429 (a low-privilege token cannot probe the API unthrottled).
    """
    if isinstance(exc, Http404):  # as DRF's own handler turns Django's exceptions into its own
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, DisallowedHost):
        _host_logger.error("%s", exc, extra={"status_code": 400, "request": request})
        exc = HostNotAllowed()
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()
        exc.wait = DATABASE_RETRY_AFTER_SECONDS
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        exc = _refused_throttle(exc, request)
    return exc


def _messages(detail, prefix: str = "") -> dict[str, list[str]]:
    """A validation error's messages by field, nested fields as `field.sub` or `items.0.title`:
    plain strings, never the reprs of DRF's ErrorDetail objects."""
    if isinstance(detail, dict):
        found: dict[str, list[str]] = {}
        for name, value in detail.items():
            found.update(_messages(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}"))
        return found
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        found = {}
        for index, value in enumerate(detail):
            if value:
                found.update(_messages(value, f"{prefix}.{index}" if prefix else str(index)))
        return found
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def error_data(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        fields = _messages(exc.detail)
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        return error_body("invalid", summary, fields)
    code = exc.get_codes()
    if not isinstance(code, str):
        code = "invalid"
    detail = exc.detail
    if isinstance(detail, list):
        detail = " ".join(str(d) for d in detail)
    return error_body(code, str(detail))


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: its own handling (status, headers), our body."""
    exc = api_exception(exc, context["request"])
    response = exception_handler(exc, context)
    if response is not None:
        response.data = error_data(exc)
    return response


def error_reply(exc: Exception, request) -> JsonResponse | None:
    """The JSON reply for `exc` outside DRF, with DRF's headers (WWW-Authenticate from the
    exception's `auth_header`, Retry-After); None when `exc` is no API error (a bug: Django's
    500)."""
    exc = api_exception(exc, request)
    if not isinstance(exc, exceptions.APIException):
        return None
    response = JsonResponse(error_data(exc), status=exc.status_code)
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


def _refused_throttle(exc, request):
    """Count a refused request (no valid credentials, or not permitted) against its IP; over the
    limit it is a 429.

    DRF checks throttles only after authentication and permissions pass, so anonymous callers,
    credential guessing and tokens without the permission would never meet a throttle without this.
    """
    from .throttling import UnauthenticatedRateThrottle

    throttle = UnauthenticatedRateThrottle()
    if throttle.allow_request(request, None):
        return exc
    return exceptions.Throttled(
        wait=throttle.wait(), detail="Too many refused requests (no valid credentials or permission) from this address."
    )


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("permission_denied", "You may not access this resource."), status=403)


def page_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)


def api_not_found(request, *args, **kwargs):
    """Any path under /api/ that names no endpoint: JSON, as every API answer. A path that only
    lacks its trailing slash (/api/docs) is redirected, as Django's APPEND_SLASH would."""
    from django.http import HttpResponsePermanentRedirect
    from django.urls import Resolver404, resolve

    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != "api-not-found":
            return HttpResponsePermanentRedirect(request.get_full_path().replace(request.path, request.path + "/", 1))
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path[:200]}."), status=404)
