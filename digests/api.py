"""GET /api/digests (deliveries), POST /api/digests/send and /api/audiences, through the admin's services."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from classification.models import Function

from . import selectors, services
from .models import Audience, Channel, Digest, DigestDelivery, Receipt


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DigestDelivery.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    # ?week_after=2026-10-01&week_before=2026-10-31 on the digest's Friday.
    week = django_filters.DateFromToRangeFilter(field_name="digest__week_ending")
    audience = django_filters.NumberFilter(field_name="digest__audience_id", help_text="One audience's deliveries.")

    class Meta:
        model = DigestDelivery
        fields = ["status", "channel", "week", "audience"]


class DeliveryListView(generics.ListAPIView):
    """Digest deliveries (one per chunk and channel) with their status, newest digest first."""

    required_permissions = ("digests.view_digestdelivery",)

    class OutputSerializer(serializers.ModelSerializer):
        week_ending = serializers.DateField(source="digest.week_ending", read_only=True)
        digest_id = serializers.IntegerField(read_only=True)
        digest_kind = serializers.CharField(source="digest.kind", read_only=True)
        audience = serializers.CharField(source="digest.audience.name", read_only=True)

        class Meta:
            model = DigestDelivery
            fields = [
                "id",
                "digest_id",
                "digest_kind",
                "audience",
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

    queryset = DigestDelivery.objects.select_related("digest__audience")
    serializer_class = OutputSerializer
    filterset_class = DeliveryFilter
    search_fields = ["last_error", "deployment_id"]
    ordering_fields = ["next_attempt_at", "sent_at", "attempts", "id"]
    ordering = ["-digest__week_ending", "-digest_id", "chunk", "channel", "id"]


class DigestSerializer(serializers.ModelSerializer):
    audience = serializers.CharField(source="audience.name", read_only=True)

    class Meta:
        model = Digest
        fields = [
            "id",
            "kind",
            "audience_id",
            "audience",
            "week_ending",
            "covers_from",
            "built_at",
            "detection_count",
            "member_count",
        ]


class LeftOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=Receipt.LeftOut.choices)


class DigestSendView(APIView):
    required_permissions = ("digests.send_digest",)

    class InputSerializer(serializers.Serializer):
        build = serializers.BooleanField(
            default=False,
            help_text="Send each weekly audience an extra digest of what it has not received (Friday's still goes "
            "out).",
        )
        audiences = serializers.PrimaryKeyRelatedField(
            many=True,
            required=False,
            queryset=Audience.objects.receiving(Receipt.Stream.DIGEST),
            help_text="With build: only these weekly audiences (active ids); all of them when left out.",
        )
        resend_dead = serializers.BooleanField(default=False, help_text="Give dead deliveries a fresh start.")

    class OutputSerializer(serializers.Serializer):
        digests = DigestSerializer(many=True, help_text="The extra digests, one per audience with something to send.")
        sent = serializers.ListField(
            child=serializers.IntegerField(), help_text="Detections they carry (a detection may go to several)."
        )
        left_out = LeftOutSerializer(many=True, help_text="Detections left out: no longer true when it was built.")
        waiting = serializers.ListField(
            child=serializers.IntegerField(), help_text="Detections a weekly audience still waits for."
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
        if "audiences" in options and not options["build"]:
            raise serializers.ValidationError(
                {"audiences": ["Only with build: true (they choose who gets extra digests)."]}
            )
        chosen = [audience.pk for audience in options["audiences"]] if "audiences" in options else None
        with transaction.atomic():
            # Building queues the sending of everything due once this commits, revived ones included.
            actor = {"user": request.user, "via": "api"}
            if options["build"]:
                build = services.digest_build_and_send(Digest.Kind.EXTRA, audience_ids=chosen, **actor)
            else:
                build = services.nothing_built()
            resent = services.deliveries_resend(**actor) if options["resend_dead"] else 0
            due = services.deliveries_make_due(**actor)
            transaction.on_commit(services.deliveries_send_enqueue)
        body = {
            "digests": build.digests,
            "sent": build.detection_ids,
            "left_out": [{"id": pk, "reason": reason} for pk, reason in build.left_out.items()],
            "waiting": selectors.detections_waiting(now=timezone.now()),
            "next_weekly_at": build.next_weekly_at,
            "resent": resent,
            "due": due,
            "status": "queued",
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class AudienceSerializer(serializers.ModelSerializer):
    """An audience as the admin edits it; a channel's secret (the Teams webhook) is write-only."""

    countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, help_text="ISO 3166-1 alpha-2 codes, e.g. DE."
    )
    functions = serializers.ListField(
        child=serializers.ChoiceField(
            choices=Function.choices,
            error_messages={
                "invalid_choice": f'"{{input}}" is not a valid choice: the functions are {", ".join(Function.values)}.'
            },
        ),
        required=False,
        help_text=f"{Audience._meta.get_field('functions').help_text} Values: {', '.join(Function.values)}.",
    )
    teams_webhook_url = serializers.URLField(
        max_length=2000, required=False, allow_blank=True, write_only=True, help_text="Write-only: it is a secret."
    )
    has_teams_webhook = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Audience
        fields = [
            "id",
            "name",
            "levels",
            "functions",
            "kinds",
            "countries",
            "companies",
            "cadence",
            "alerts_per_hour",
            "email_to",
            "teams_webhook_url",
            "has_teams_webhook",
            "use_settings_channels",
            "starts_at",
            "is_active",
            "created_at",
            "updated_at",
            "warnings",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_has_teams_webhook(self, audience) -> bool:
        return bool(audience.teams_webhook_url)

    def get_warnings(self, audience) -> list[str]:
        return self.context.get("warnings", [])

    def to_representation(self, audience):
        data = super().to_representation(audience)
        data["countries"] = [str(code) for code in audience.countries]
        return data

    def validate_countries(self, codes: list[str]) -> list[str]:
        from django_countries import countries

        codes = [code.strip().upper() for code in codes]
        unknown = [code for code in codes if code not in countries]
        if unknown:
            raise serializers.ValidationError(f"Unknown country codes (ISO 3166-1 alpha-2): {', '.join(unknown)}.")
        return codes

    def save_audience(self, *, user) -> tuple[Audience, list[str]]:
        """Through the admin's service: model validation, audit, warnings."""
        audience = self.instance or Audience()
        for name, value in self.validated_data.items():
            setattr(audience, name, value)
        try:
            warnings = services.audience_save(audience, user=user, via="api")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return audience, warnings


class AudienceListView(generics.ListCreateAPIView):
    """Audiences: who hears about which executives, on which channels, weekly or in real time."""

    required_permissions = {
        "GET": ("digests.view_audience",),
        "POST": ("digests.add_audience",),
        "*": ("digests.view_audience",),
    }
    queryset = Audience.objects.live()
    serializer_class = AudienceSerializer
    ordering = ["name"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        audience, warnings = serializer.save_audience(user=request.user)
        body = AudienceSerializer(audience, context={"warnings": warnings}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AudienceDetailView(generics.RetrieveUpdateDestroyAPIView):
    """One audience. DELETE with deliveries in flight answers 409 unless ?cancel_in_flight=true;
    an audience with digests is archived (kept for their history), one without is removed."""

    required_permissions = {
        "GET": ("digests.view_audience",),
        "PUT": ("digests.change_audience",),
        "PATCH": ("digests.change_audience",),
        "DELETE": ("digests.delete_audience",),
        "*": ("digests.view_audience",),
    }
    queryset = Audience.objects.live()
    serializer_class = AudienceSerializer

    def update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        audience, warnings = serializer.save_audience(user=request.user)
        return Response(AudienceSerializer(audience, context={"warnings": warnings}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "cancel_in_flight", bool, description="Cancel its pending and retrying deliveries (else 409)."
            )
        ]
    )
    def destroy(self, request, *args, **kwargs):
        cancel = request.query_params.get("cancel_in_flight", "").lower() in ("1", "true", "yes")
        try:
            deletion = services.audience_delete(
                self.get_object(), user=request.user, via="api", cancel_in_flight=cancel
            )
        except services.AudienceBusy as exc:
            return Response(
                {"detail": str(exc), "code": "deliveries_in_flight", "in_flight": exc.count},
                status=status.HTTP_409_CONFLICT,
            )
        body = {"archived": deletion.archived, "cancelled": deletion.cancelled, "finishing": deletion.finishing}
        return Response(body, status=status.HTTP_200_OK)
