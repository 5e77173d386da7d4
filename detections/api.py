"""POST /webhooks/community[/<event name>]: authenticate, validate, store, reply 202."""

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import WebhookAuthentication
from .models import RawEvent
from .parsers import StrictJSONParser
from .serializers import ProfileUpdatedSerializer, UserRegisteredSerializer
from .services import IncomingEvent, event_receive

EventType = RawEvent.EventType
SERIALIZERS = {
    EventType.PROFILE_UPDATED: ProfileUpdatedSerializer,
    EventType.USER_REGISTERED: UserRegisteredSerializer,
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class CommunityWebhookView(APIView):
    authentication_classes = [WebhookAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictJSONParser]

    def initial(self, request, *args, **kwargs):
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
        serializer = SERIALIZERS[event_name](data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        incoming = IncomingEvent(
            event_type=event_name,
            user_id=data["userId"],
            username=data.get("username", ""),
            field=data.get("profileField", ""),
            value=data.get("value") or "",
            old_value=data.get("oldValue") or "",
            payload=request.data,
            delivery_id=request.META.get("HTTP_WEBHOOK_ID") or None,
        )
        if incoming.delivery_id and len(incoming.delivery_id) > 255:
            raise exceptions.ParseError("The webhook-id header is longer than 255 characters.")
        receipt = event_receive(incoming=incoming)
        return Response({"status": receipt.status, "event_id": receipt.event_id}, status=status.HTTP_202_ACCEPTED)
