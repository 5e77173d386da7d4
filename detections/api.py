"""The operators' member and detection look-ups (GET /api/members[/<user_id>], GET /api/detections)."""

from rest_framework import generics, serializers

from .filters import DetectionFilter, MemberFilter
from .models import Detection, SeniorMember


class MemberSerializer(serializers.ModelSerializer):
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


class MemberListView(generics.ListAPIView):
    """Current senior executives. Filter by level, company, country and first-detection date;
    search name, title, company; order by first_detected_at, last_seen_at, username."""

    required_permissions = ("detections.view_seniormember",)
    queryset = SeniorMember.objects.all()
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["first_detected_at", "last_seen_at", "username", "level"]
    ordering = ["-first_detected_at", "user_id"]


class MemberDetailView(generics.RetrieveAPIView):
    """One current senior executive by community user id; 404 when they are not (or no longer) senior."""

    required_permissions = ("detections.view_seniormember",)
    queryset = SeniorMember.objects.all()
    serializer_class = MemberSerializer
    lookup_field = "user_id"
    filter_backends = []


class DetectionListView(generics.ListAPIView):
    """Detections (first and promotion), newest first. Filter by level, kind, company, country
    and date; search name, title, company; order by detected_at or username."""

    required_permissions = ("detections.view_detection",)

    class OutputSerializer(serializers.ModelSerializer):
        sent_to = serializers.SerializerMethodField(
            help_text="Each audience that received it (stream digest or alert, with the digest's id) or left it "
            "out (left_out says why)."
        )

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
                "sent_to",
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

    queryset = Detection.objects.prefetch_related("receipts__audience")
    serializer_class = OutputSerializer
    filterset_class = DetectionFilter
    search_fields = ["username", "title", "company"]
    ordering_fields = ["detected_at", "username", "level", "kind"]
    ordering = ["-detected_at", "-id"]
