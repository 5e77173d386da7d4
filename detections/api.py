"""The operators' member and detection look-ups (GET /api/members[/<user_id>], GET /api/detections)."""

from django.db import models
from rest_framework import exceptions, generics, serializers

from core.dates import RANGE_TEXT, moment_local

from .filters import DetectionFilter, MemberFilter
from .models import Detection, SeniorMember
from .payloads import user_id_refusal


class DateTimeInRangeField(serializers.DateTimeField):
    """A stored date out of the service's range (core.dates; stored before the range was checked)
    is null here, and named in the row's `invalid_dates`: DRF's own field fails the whole reply."""

    def to_representation(self, value):
        if value is not None and moment_local(value) is None:
            return None
        return super().to_representation(value)


class DatesInRangeSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping}
    serializer_field_mapping[models.DateTimeField] = DateTimeInRangeField
    invalid_dates = serializers.SerializerMethodField(
        help_text=f"The dates of this row stored outside the service's range ({RANGE_TEXT}), shown as null."
    )

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if field_class is DateTimeInRangeField:
            field_kwargs["allow_null"] = True
        return field_class, field_kwargs

    def get_invalid_dates(self, instance) -> list[str]:
        return [
            name
            for name, field in self.fields.items()
            if isinstance(field, DateTimeInRangeField)
            and (value := field.get_attribute(instance)) is not None
            and moment_local(value) is None
        ]


class MemberSerializer(DatesInRangeSerializer):
    class Meta:
        model = SeniorMember
        fields = [
            "user_id",
            "username",
            "title",
            "level",
            "function",
            "company",
            "country",
            "joined_at",
            "first_detected_at",
            "last_seen_at",
            "rules_version",
            "enrichment_error",
            "invalid_dates",
        ]


class MemberListView(generics.ListAPIView):
    """Current senior executives. Filter by level, function, company, country and first-detection date;
    search name, title, company; order by first_detected_at, last_seen_at, username."""

    required_permissions = ("detections.view_seniormember",)
    queryset = SeniorMember.objects.all()
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["first_detected_at", "last_seen_at", "username", "level", "function"]
    ordering = ["-first_detected_at", "user_id"]


class MemberDetailView(generics.RetrieveAPIView):
    """One current senior executive by community user id; 404 when they are not (or no longer) senior."""

    required_permissions = ("detections.view_seniormember",)
    queryset = SeniorMember.objects.all()
    serializer_class = MemberSerializer
    lookup_field = "user_id"
    filter_backends = []

    def get_object(self):
        if refusal := user_id_refusal(self.kwargs["user_id"]):
            raise exceptions.ValidationError({"user_id": [refusal]})
        return super().get_object()


class DetectionListView(generics.ListAPIView):
    """Detections (first and promotion), newest first. Filter by level, function, kind, company,
    country and date; search name, title, company; order by detected_at or username."""

    required_permissions = ("detections.view_detection",)

    class OutputSerializer(DatesInRangeSerializer):
        sent_to = serializers.SerializerMethodField(
            help_text="Each audience that received it (stream digest or alert, with the digest's id) or left it "
            "out (left_out says why)."
        )
        salesforce_handoff = serializers.SerializerMethodField(
            help_text="Its Salesforce hand-off (CRM_HANDOFF_ENABLED): status, account, task_id, error; null when it "
            "has none."
        )

        class Meta:
            model = Detection
            fields = [
                "id",
                "user_id",
                "username",
                "title",
                "level",
                "function",
                "kind",
                "company",
                "country",
                "joined_at",
                "detected_at",
                "rules_version",
                "sent_to",
                "salesforce_handoff",
                "invalid_dates",
            ]

        def get_sent_to(self, detection) -> list[dict]:
            return [
                {
                    "audience_id": receipt.audience_id,
                    "audience": receipt.audience.name,
                    "stream": receipt.stream,
                    "digest_id": receipt.digest_id,
                    "left_out": receipt.left_out,
                }
                for receipt in detection.receipts.all()
            ]

        def get_salesforce_handoff(self, detection) -> dict | None:
            # Read through the relation the crm app declares on Detection (this app imports none of it).
            handoff = getattr(detection, "salesforce_handoff", None)
            if handoff is None:
                return None
            return {
                "status": handoff.status,
                "account_id": handoff.account_id or None,
                "account_name": handoff.account_name or None,
                "task_id": handoff.task_id or None,
                "candidates": [{"id": a.get("Id"), "name": a.get("Name")} for a in handoff.candidates],
                "error": handoff.last_error or None,
                "handed_off_at": handoff.handed_off_at,
            }

    queryset = Detection.objects.select_related("salesforce_handoff").prefetch_related("receipts__audience")
    serializer_class = OutputSerializer
    filterset_class = DetectionFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["detected_at", "username", "level", "function", "kind"]
    ordering = ["-detected_at", "-id"]
