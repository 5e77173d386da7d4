"""GET /api/digests (deliveries) and POST /api/digests/send, through the admin's services."""

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Channel, DigestDelivery


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DigestDelivery.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    # ?week_after=2026-10-01&week_before=2026-10-31 on the digest's Friday.
    week = django_filters.DateFromToRangeFilter(field_name="digest__week_ending")

    class Meta:
        model = DigestDelivery
        fields = ["status", "channel", "week"]


class DeliveryListView(generics.ListAPIView):
    """Digest deliveries (one per chunk and channel) with their status, newest digest first."""

    class OutputSerializer(serializers.ModelSerializer):
        week_ending = serializers.DateField(source="digest.week_ending", read_only=True)

        class Meta:
            model = DigestDelivery
            fields = [
                "id",
                "week_ending",
                "channel",
                "chunk",
                "chunk_count",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
                "sent_at",
                "deployment_id",
                "deployed_at",
                "run_status",
                "run_message",
            ]

    queryset = DigestDelivery.objects.select_related("digest")
    serializer_class = OutputSerializer
    filterset_class = DeliveryFilter
    search_fields = ["last_error", "deployment_id"]
    ordering_fields = ["next_attempt_at", "sent_at", "attempts", "id"]
    ordering = ["-digest__week_ending", "chunk", "channel"]


class DigestSendView(APIView):
    class InputSerializer(serializers.Serializer):
        build = serializers.BooleanField(default=False, help_text="Build this week's digest first.")
        resend_dead = serializers.BooleanField(default=False, help_text="Give dead deliveries a fresh start.")

    class OutputSerializer(serializers.Serializer):
        digest = serializers.DictField(allow_null=True, help_text="week_ending and detections, when built.")
        resent = serializers.IntegerField()
        due = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, tags=["digests"])
    def post(self, request):
        """Build this week's digest (optional), revive dead deliveries (optional), send what is due now."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = serializer.validated_data
        with transaction.atomic():
            # Building queues the sending of everything due once this commits, revived ones included.
            digest = services.digest_build_and_send() if options["build"] else None
            resent = services.deliveries_resend() if options["resend_dead"] else 0
            due = services.deliveries_make_due()
            if digest is None:
                transaction.on_commit(services.deliveries_send_enqueue)
        body = {
            "digest": {"week_ending": digest.week_ending, "detections": digest.detection_count} if digest else None,
            "resent": resent,
            "due": due,
            "status": "queued",
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
