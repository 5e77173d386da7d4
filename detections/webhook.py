"""POST /webhooks/community[/<event name>]: every inSided delivery, whatever its outcome.

A plain Django view rather than DRF's: DRF's request wrapping, negotiation and serializers cost
more CPU than storing the event. `WebhookMiddleware` hands the webhook's URLs to it ahead of the
browser middleware (sessions, CSRF, users, messages), which means nothing to a machine posting
JSON with its own credentials. The checks, in order: the Host header (400 outside ALLOWED_HOSTS:
CommonMiddleware checks it for every other URL, and the webhook is answered before it), the
credentials the headers carry (401: nothing waits for the body of a sender that has not proved
who it is), a body whose end cannot be found (411), size (413), a body shorter than announced or
cut off (400), a signature over the body (401), method (405), rate (429), event name (404), body
(400, 415), fields (400); then the event is stored (202) or the database is away (503). Errors
are the API's JSON (core.errors). A sender that proved who it is and then dribbles its body is
the reverse proxy's to stop (deploy/haproxy: the whole request within 10 s, or a 408): granian
gives a body read no deadline.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse, UnreadablePostError
from django.urls import Resolver404, get_script_prefix, resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError as PayloadInvalid
from rest_framework import exceptions, status

from core.errors import error_reply
from core.metrics import WEBHOOKS, request_exception_count
from core.throttling import WebhookRateThrottle

from .authentication import webhook_sender_precheck, webhook_sender_verify
from .models import RawEvent
from .parsers import json_body_parse
from .payloads import ProfileUpdated, UserRegistered, value_max_length
from .services.intake import IncomingEvent, Receipt, event_receive

EventType = RawEvent.EventType
PAYLOADS = {EventType.PROFILE_UPDATED: ProfileUpdated, EventType.USER_REGISTERED: UserRegistered}
MAX_DELIVERY_ID_LENGTH = 255


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


@csrf_exempt
def community_webhook(request, event_name: str = EventType.PROFILE_UPDATED) -> JsonResponse:
    try:
        receipt = _receive(request, event_name)
    except Exception as exc:
        response = error_reply(exc, request)
        if response is None:
            raise  # a bug: Django's JSON 500, logged and counted
        if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            response["Allow"] = "POST"
        WEBHOOKS.labels(outcome=f"rejected_{response.status_code}").inc()
        return response
    WEBHOOKS.labels(outcome=receipt.status).inc()
    return JsonResponse(
        {"status": receipt.status, "event_id": receipt.event_id},
        status=status.HTTP_202_ACCEPTED,
        json_dumps_params={"separators": (",", ":")},
    )


def _receive(request, event_name: str) -> Receipt:
    request.get_host()  # DisallowedHost for a Host outside ALLOWED_HOSTS, before the body is read
    sender = webhook_sender_precheck(request)  # credentials, also before the body is read
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not declared and (request.META.get("wsgi.input_terminated") or request.META.get("HTTP_TRANSFER_ENCODING")):
        _unsized_body_read(request, limit)
    if declared and not (declared.isascii() and declared.isdigit()):
        raise exceptions.ParseError("Content-Length is not a number.")
    if int(declared or 0) > limit:  # before anything reads the body
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    try:
        body = request.body
    except UnreadablePostError:  # the connection broke while the body was read
        raise exceptions.ParseError("The body could not be read: the connection broke.") from None
    if len(body) < int(declared or 0):  # the sender closed its side early
        raise exceptions.ParseError(
            f"The body ended after {len(body)} of the {declared} bytes its Content-Length announced."
        )
    if sender is None:  # signed: the signature covers the body
        webhook_sender_verify(request)
    if request.method != "POST":
        raise exceptions.MethodNotAllowed(request.method)
    throttle = WebhookRateThrottle()
    if not throttle.allow_request(request, None):
        raise exceptions.Throttled(wait=throttle.wait())
    if event_name not in PAYLOADS:
        raise exceptions.NotFound(f"Unknown event {event_name!r}; known events: {', '.join(PAYLOADS)}.")
    if request.body and request.content_type != "application/json":
        raise exceptions.UnsupportedMediaType(request.content_type or "(none)")
    data = json_body_parse(request.body)
    if not isinstance(data, dict):
        raise exceptions.ParseError("The body must be a JSON object.")
    try:
        payload = PAYLOADS[event_name].model_validate(data)
    except PayloadInvalid as exc:
        raise exceptions.ValidationError(_field_errors(exc)) from None
    delivery_id = request.META.get("HTTP_WEBHOOK_ID") or None
    if delivery_id and len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
        raise exceptions.ParseError(f"The webhook-id header is longer than {MAX_DELIVERY_ID_LENGTH} characters.")
    incoming = IncomingEvent(
        event_type=event_name,
        user_id=payload.userId,
        username=getattr(payload, "username", ""),
        field=getattr(payload, "profileField", ""),
        value=getattr(payload, "value", None) or "",
        old_value=getattr(payload, "oldValue", None) or "",
        payload=data,
        delivery_id=delivery_id,
    )
    if incoming.field_role and len(incoming.value.strip()) > (limit := value_max_length(incoming.field_role)):
        message = f"Must be at most {limit} characters for a {incoming.field} field."
        raise exceptions.ValidationError({"value": [message]})
    return event_receive(incoming=incoming)


def _unsized_body_read(request, limit: int) -> None:
    """A body without a Content-Length (chunked, or HTTP/2) becomes the request's body where the
    server marks its end (`wsgi.input_terminated`, as granian does); elsewhere WSGI gives no way
    to find its end, and the sender is asked for a Content-Length (411)."""
    if not request.META.get("wsgi.input_terminated"):
        raise LengthRequired("Chunked bodies are not accepted here: send the body with a Content-Length.")
    try:
        body = request.META["wsgi.input"].read(limit + 1)
    except OSError:
        raise exceptions.ParseError("The body could not be read: the connection broke.") from None
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    request._body = body  # what HttpRequest.body returns once read (Django caches it there)


def _field_errors(exc: PayloadInvalid) -> dict[str, list[str]]:
    """pydantic's errors as {field: [message]}, worded for a person."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(name, []).append(message[:1].upper() + message[1:] + ".")
    return fields


class WebhookMiddleware:
    """Webhook deliveries go straight to `community_webhook`, ahead of the browser middleware.

    It sits after the request metrics, request id and SecurityMiddleware (HTTPS redirect, security
    headers), which every request passes. Sessions, CSRF, users and messages were a fifth of the
    webhook's CPU. Other URLs, and a webhook URL that does not resolve, continue as usual.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        # The URLs as path_info has them, without FORCE_SCRIPT_NAME's prefix; resolved once.
        urls = [reverse("webhook-community")]
        urls += [reverse("webhook-community-event", args=[name]) for name in PAYLOADS]
        paths = ["/" + url.removeprefix(get_script_prefix()) for url in urls]
        self.prefix = paths[0]
        self.matches = {path: resolve(path) for path in paths}

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(self.prefix) or getattr(request, "urlconf", None) is not None:
            return self.get_response(request)  # not a webhook URL, or a handler with URLs of its own
        try:
            match = self.matches.get(path) or resolve(path)  # an unknown event name: the view's 404
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match  # the request metrics label the view, as for any request
        try:
            return match.func(request, *match.args, **match.kwargs)
        except Exception as exc:
            request_exception_count(request, exc)
            raise  # Django answers 500 (handler500) and logs it, as for a view
