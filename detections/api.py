"""The community webhook, and the operators' member and detection lists."""

import functools

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from captpathfinder.metrics import WEBHOOKS
from captpathfinder.throttling import WebhookRateThrottle

from .authentication import WebhookAuthentication
from .filters import DetectionFilter, MemberFilter
from .models import Detection, RawEvent, SeniorMember
from .parsers import StrictJSONParser, json_body_parse
from .serializers import ProfileUpdatedSerializer, UserRegisteredSerializer, profile_update_validate_fast
from .services import IncomingEvent, event_receive

EventType = RawEvent.EventType
SERIALIZERS = {
    EventType.PROFILE_UPDATED: ProfileUpdatedSerializer,
    EventType.USER_REGISTERED: UserRegisteredSerializer,
}


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """The webhook only ever answers JSON: skip parsing the Accept header on the hot path."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@functools.cache
def _payload_validator(event_name: str) -> serializers.Serializer:
    """One serializer instance per event type and process, used only to validate.

    Instantiating a DRF serializer deep-copies its fields, which was a fifth of the webhook's
    CPU; these fields keep no state between validations, so one instance serves every request
    (run_validation raises the same ValidationError that is_valid would).
    """
    return SERIALIZERS[event_name]()


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class WebhookReplySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "ignored"])
    event_id = serializers.IntegerField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code: invalid, parse_error, not_authenticated, …")
    detail = serializers.CharField(help_text="What is wrong, for a person.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False, help_text="Per-field messages."
    )


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


@extend_schema(
    tags=["webhook"],
    request=ProfileUpdatedSerializer,
    responses={
        202: WebhookReplySerializer,
        400: _error("Malformed JSON, an empty or non-object body, or invalid fields."),
        401: _error("Missing or wrong Basic credentials, or a bad or stale signature. Nothing is stored."),
        404: _error("Unknown event name."),
        413: _error("Body larger than WEBHOOK_MAX_BODY_BYTES (64 KiB)."),
        415: _error("Content type is not application/json."),
        429: _error("Too many deliveries from this address; see Retry-After."),
    },
)
class CommunityWebhookView(APIView):
    """inSided `integration.UserProfileUpdated` (the bare URL) and `IdentityAccess.UserRegistered`.

    The event is stored before the 202; classification happens in a Celery task. The usual
    delivery, a valid profile update, is answered before it gets here by
    `profile_update_receive_fast` (detections/middleware.py); this view handles everything else.
    """

    authentication_classes = [WebhookAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    throttle_classes = [WebhookRateThrottle]

    def initial(self, request, *args, **kwargs):
        if intake_error := getattr(request, "intake_database_error", None):
            raise intake_error  # the fast path's intake call failed: answered as a 503, not tried again
        # Before authentication, which reads the body to check a signature.
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise exceptions.ParseError("Content-Length is not a number.") from None
        if declared > limit or len(request.body) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        super().initial(request, *args, **kwargs)

    def post(self, request, event_name: str = EventType.PROFILE_UPDATED):
        if event_name not in SERIALIZERS:
            known = ", ".join(SERIALIZERS)
            raise exceptions.NotFound(f"Unknown event {event_name!r}; known events: {known}.")
        if not request.body:
            raise exceptions.ParseError("The request body is empty; a JSON object is expected.")
        if not isinstance(request.data, dict):
            raise exceptions.ParseError("The body must be a JSON object.")
        data = _payload_validator(event_name).run_validation(request.data)
        incoming = _incoming_event(event_name, data, request.data, request.META.get("HTTP_WEBHOOK_ID") or None)
        if incoming.delivery_id and len(incoming.delivery_id) > 255:
            raise exceptions.ParseError("The webhook-id header is longer than 255 characters.")
        receipt = event_receive(incoming=incoming)
        return Response({"status": receipt.status, "event_id": receipt.event_id}, status=status.HTTP_202_ACCEPTED)

    def finalize_response(self, request, response, *args, **kwargs):
        accepted = response.status_code == status.HTTP_202_ACCEPTED and isinstance(response.data, dict)
        WEBHOOKS.labels(outcome=response.data["status"] if accepted else f"rejected_{response.status_code}").inc()
        return super().finalize_response(request, response, *args, **kwargs)


def profile_update_receive_fast(request) -> JsonResponse | None:
    """A valid, authenticated, unthrottled profile update, without DRF's request machinery.

    Called by `WebhookFastPathMiddleware` before the browser-session middleware. DRF's request
    wrapping, negotiation and serializer, and the session, CSRF, auth and message middleware,
    cost most of the webhook's CPU. This does the same checks with the same code, for the
    common case only: at the first thing it does not recognise — any error, any other event —
    it returns None before anything was stored, and the request goes on through the middleware
    to `CommunityWebhookView`, which handles it and words the error.
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if request.content_type != "application/json" or not request.META.get("CONTENT_LENGTH", "").isdigit():
        return None
    if not 0 < int(request.META["CONTENT_LENGTH"]) <= limit or len(request.body) > limit:
        return None
    delivery_id = request.META.get("HTTP_WEBHOOK_ID") or None
    if delivery_id and len(delivery_id) > 255:
        return None
    try:
        WebhookAuthentication().authenticate(request)
        payload = json_body_parse(request.body)
    except exceptions.APIException:
        return None
    data = profile_update_validate_fast(payload) if isinstance(payload, dict) else None
    # The throttle's key is the sending address; it does not look at the view.
    if data is None or not WebhookRateThrottle().allow_request(request, None):
        return None
    incoming = _incoming_event(EventType.PROFILE_UPDATED, data, payload, delivery_id)
    try:
        receipt = event_receive(incoming=incoming)
    except (OperationalError, InterfaceError) as exc:
        request.intake_database_error = exc  # the view words the 503 (api_exception_handler)
        return None
    WEBHOOKS.labels(outcome=receipt.status).inc()
    return JsonResponse(
        {"status": receipt.status, "event_id": receipt.event_id},
        status=status.HTTP_202_ACCEPTED,
        json_dumps_params={"separators": (",", ":")},  # byte for byte what DRF's renderer writes
    )


def _incoming_event(event_name: str, data: dict, payload: dict, delivery_id: str | None) -> IncomingEvent:
    return IncomingEvent(
        event_type=event_name,
        user_id=data["userId"],
        username=data.get("username", ""),
        field=data.get("profileField", ""),
        value=data.get("value") or "",
        old_value=data.get("oldValue") or "",
        payload=payload,
        delivery_id=delivery_id,
    )


class CommunityWebhookEventView(CommunityWebhookView):
    """The same webhook with the event named in the path: one URL per inSided subscription."""

    @extend_schema(
        operation_id="webhooks_community_event",
        request=PolymorphicProxySerializer(
            component_name="CommunityEvent",
            serializers=[ProfileUpdatedSerializer, UserRegisteredSerializer],
            resource_type_field_name=None,
        ),
        parameters=[OpenApiParameter("event_name", str, OpenApiParameter.PATH, enum=list(SERIALIZERS))],
    )
    def post(self, request, event_name: str = EventType.PROFILE_UPDATED):
        return super().post(request, event_name)


class MemberListView(generics.ListAPIView):
    """Current senior executives. Filter by level, company, country and first-detection date;
    search name, title, company; order by first_detected_at, last_seen_at, username."""

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = SeniorMember
            fields = [
                "user_id",
                "username",
                "title",
                "level",
                "company",
                "country",
                "joined_at",
                "first_detected_at",
                "last_seen_at",
                "rules_version",
                "enrichment_error",
            ]

    queryset = SeniorMember.objects.all()
    serializer_class = OutputSerializer
    filterset_class = MemberFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["first_detected_at", "last_seen_at", "username", "level"]
    ordering = ["-first_detected_at", "user_id"]


class DetectionListView(generics.ListAPIView):
    """Detections (first and promotion), newest first. Filter by level, kind, company, country
    and date; search name, title, company; order by detected_at or username."""

    class OutputSerializer(serializers.ModelSerializer):
        digest_week_ending = serializers.DateField(source="digest.week_ending", allow_null=True, read_only=True)

        class Meta:
            model = Detection
            fields = [
                "id",
                "user_id",
                "username",
                "title",
                "level",
                "kind",
                "company",
                "country",
                "joined_at",
                "detected_at",
                "rules_version",
                "digest_week_ending",
            ]

    queryset = Detection.objects.select_related("digest")
    serializer_class = OutputSerializer
    filterset_class = DetectionFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["detected_at", "username", "level", "kind"]
    ordering = ["-detected_at", "-id"]
