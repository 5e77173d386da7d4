from django.urls import path

from classification.api import ClassifyView
from detections.api import DetectionListView, MemberListView
from digests.api import DeliveryListView, DigestSendView
from reports.api import ReportDownloadView, ReportGenerateView, ReportListView

from .api import StatsView
from .schema_views import RedocView, SchemaView, SwaggerView

urlpatterns = [
    path("stats", StatsView.as_view(), name="api-stats"),
    path("members", MemberListView.as_view(), name="api-members"),
    path("detections", DetectionListView.as_view(), name="api-detections"),
    path("digests", DeliveryListView.as_view(), name="api-digests"),
    path("digests/send", DigestSendView.as_view(), name="api-digests-send"),
    path("reports", ReportListView.as_view(), name="api-reports"),
    path("reports/generate", ReportGenerateView.as_view(), name="api-reports-generate"),
    path("reports/<int:pk>/<str:kind>", ReportDownloadView.as_view(), name="api-reports-download"),
    path("classify", ClassifyView.as_view(), name="api-classify"),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
