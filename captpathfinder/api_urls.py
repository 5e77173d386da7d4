from django.urls import path

from digests.api import DigestSendView
from reports.api import ReportGenerateView

urlpatterns = [
    path("digests/send", DigestSendView.as_view(), name="api-digests-send"),
    path("reports/generate", ReportGenerateView.as_view(), name="api-reports-generate"),
]
