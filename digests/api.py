"""GET /api/digests (deliveries) and POST /api/digests/send, through the admin's services."""

import django_filters
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access.services import audit_record
from detections.models import Detection

from . import services
from .models import Channel, Digest, DigestDelivery


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

    required_permissions = ("digests.view_digestdelivery",)

    class OutputSerializer(serializers.ModelSerializer):
        week_ending = serializers.DateField(source="digest.week_ending", read_only=True)
        digest_id = serializers.IntegerField(read_only=True)
        digest_kind = serializers.CharField(source="digest.kind", read_only=True)

        class Meta:
            model = DigestDelivery
            fields = [
                "id",
                "digest_id",
                "digest_kind",
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
    ordering = ["-digest__week_ending", "-digest_id", "chunk", "channel", "id"]


class DigestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Digest
        fields = ["id", "kind", "week_ending", "covers_from", "built_at", "detection_count", "member_count"]


class LeftOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=Detection.LeftOut.choices)


class DigestSendView(APIView):
    required_permissions = ("digests.send_digest",)

    class InputSerializer(serializers.Serializer):
        build = serializers.BooleanField(
            default=False,
            help_text="Send an extra digest of every detection waiting now (Friday's digest still goes out).",
        )
        resend_dead = serializers.BooleanField(default=False, help_text="Give dead deliveries a fresh start.")

    class OutputSerializer(serializers.Serializer):
        digest = DigestSerializer(allow_null=True, help_text="The extra digest; null when nothing was waiting.")
        sent = serializers.ListField(child=serializers.IntegerField(), help_text="Detections this digest carries.")
        left_out = LeftOutSerializer(many=True, help_text="Detections left out: no longer true when it was built.")
        waiting = serializers.ListField(
            child=serializers.IntegerField(), help_text="Detections still waiting, for the next digest."
        )
        next_weekly_at = serializers.DateTimeField(allow_null=True, help_text="Friday's build; null when paused.")
        resent = serializers.IntegerField()
        due = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, tags=["digests"])
    def post(self, request):
        """Send an extra digest now (optional), revive dead deliveries (optional), send what is due now."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = serializer.validated_data
        with transaction.atomic():
            # Building queues the sending of everything due once this commits, revived ones included.
            build = services.digest_build_and_send(Digest.Kind.EXTRA) if options["build"] else services.nothing_built()
            resent = services.deliveries_resend() if options["resend_dead"] else 0
            due = services.deliveries_make_due()
            transaction.on_commit(services.deliveries_send_enqueue)
            if build.digest is not None or options["build"]:
                target = build.digest or "nothing to send"
                audit_record(
                    request.user, "digest.send_extra", via="api", target=target, detections=build.detection_ids
                )
            audit_record(request.user, "delivery.send_now", via="api", target=f"{due} deliveries", resent=resent)
        body = {
            "digest": build.digest,
            "sent": build.detection_ids,
            "left_out": [{"id": pk, "reason": reason} for pk, reason in build.left_out.items()],
            "waiting": build.waiting_ids,
            "next_weekly_at": build.next_weekly_at,
            "resent": resent,
            "due": due,
            "status": "queued",
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)
