"""POST /api/reports/generate: queue a month's report, through the same service as the admin."""

from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .months import Month


class QueueUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "queue_unavailable"
    default_detail = "The task queue is unavailable; nothing was queued. Try again shortly."


class ReportGenerateView(APIView):
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

    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        month = serializer.validated_data.get("month") or Month.of(timezone.now()).previous()
        try:
            report = services.report_request(month=month)
        except services.ReportQueueUnavailable:
            exc = QueueUnavailable()
            exc.wait = 30  # becomes Retry-After
            raise exc from None
        body = {"month": str(month), "report_id": report.pk, "status": "queued", "report_status": report.status}
        return Response(body, status=status.HTTP_202_ACCEPTED)
