"""GET /api/reports, downloads, and POST /api/reports/generate, through the admin's services."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Report
from .months import Month
from .selectors import report_file_response


class ReportListView(generics.ListAPIView):
    """Month-end reports, newest month first, with their summary and download links."""

    required_permissions = ("reports.view_report",)

    class OutputSerializer(serializers.ModelSerializer):
        month = serializers.DateField(format="%Y-%m")
        complete = serializers.BooleanField(source="is_complete", help_text="Generated after the month ended.")
        files = serializers.SerializerMethodField()

        class Meta:
            model = Report
            fields = [
                "id",
                "month",
                "status",
                "complete",
                "detection_count",
                "rules_version",
                "generated_at",
                "covers_until",
                "error",
                "summary",
                "files",
            ]

        def get_files(self, report) -> dict[str, str]:
            if not (report.csv_file and report.html_file):
                return {}
            request = self.context["request"]
            return {
                kind: request.build_absolute_uri(reverse("api-reports-download", args=[report.pk, kind]))
                for kind in ("csv", "html")
            }

    queryset = Report.objects.all()
    serializer_class = OutputSerializer
    filterset_fields = ["status"]
    ordering_fields = ["month", "generated_at"]
    ordering = ["-month"]


class ReportDownloadView(generics.GenericAPIView):
    required_permissions = ("reports.download_report",)
    queryset = Report.objects.all()

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.BINARY,
            404: OpenApiResponse(),
        },
        tags=["reports"],
    )
    def get(self, request, pk: int, kind: str):
        """The report's CSV (attachment) or HTML page (sandboxed), streamed from storage."""
        return report_file_response(get_object_or_404(Report, pk=pk), kind)


class QueueUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"
    default_detail = "The task queue is unavailable; nothing was queued. Try again shortly."


class ReportGenerateView(APIView):
    required_permissions = ("reports.generate_report",)

    class InputSerializer(serializers.Serializer):
        month = serializers.CharField(
            required=False, help_text="YYYY-MM; default: the last complete month (America/New_York)."
        )

        def validate_month(self, value: str) -> Month:
            try:
                month = Month.parse(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
            if month.start > timezone.now():
                raise serializers.ValidationError(f"{month} has not started yet.")
            return month

    class OutputSerializer(serializers.Serializer):
        month = serializers.CharField()
        report_id = serializers.IntegerField()
        status = serializers.CharField()
        report_status = serializers.CharField(help_text="The report's status before this generation.")

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer}, tags=["reports"])
    def post(self, request):
        """Queue the generation of a month's report (default: the last complete month)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        month = serializer.validated_data.get("month") or Month.of(timezone.now()).previous()
        try:
            report = services.report_request(month=month, user=request.user, via="api")
        except services.ReportQueueUnavailable:
            exc = QueueUnavailable()
            exc.wait = 30  # becomes Retry-After
            raise exc from None
        body = {"month": str(month), "report_id": report.pk, "status": "queued", "report_status": report.status}
        return Response(body, status=status.HTTP_202_ACCEPTED)
