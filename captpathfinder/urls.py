from django.contrib import admin
from django.urls import include, path, re_path

from classification.api import ClassifyView
from console import health
from console.api import StatsView
from core.errors import api_not_found
from core.metrics import metrics_view
from core.schema_views import RedocView, SchemaView, SwaggerView
from detections.api import DetectionListView, MemberDetailView, MemberListView
from digests.api import AudienceDetailView, AudienceListView, DeliveryListView, DigestSendView
from reports.api import ReportDownloadView, ReportGenerateView, ReportListView

# The admin is the operators' console: its "View site" link opens the API's documentation
# (the service has no public site).
admin.site.site_url = "/api/docs/"
admin.site.site_header = admin.site.site_title = "CaptPathfinder"

api = [
    path("stats", StatsView.as_view(), name="api-stats"),
    path("members", MemberListView.as_view(), name="api-members"),
    # A community user id: up to 64 characters, no slash, no NUL (PostgreSQL refuses it in text); the
    # view answers a 400 naming user_id for one outside the safe set (detections.payloads).
    re_path(r"^members/(?P<user_id>[^/\x00]{1,64})$", MemberDetailView.as_view(), name="api-member"),
    path("detections", DetectionListView.as_view(), name="api-detections"),
    path("digests", DeliveryListView.as_view(), name="api-digests"),
    path("digests/send", DigestSendView.as_view(), name="api-digests-send"),
    path("audiences", AudienceListView.as_view(), name="api-audiences"),
    path("audiences/<int:pk>", AudienceDetailView.as_view(), name="api-audience"),
    path("reports", ReportListView.as_view(), name="api-reports"),
    path("reports/generate", ReportGenerateView.as_view(), name="api-reports-generate"),
    path("reports/<int:pk>/<str:kind>", ReportDownloadView.as_view(), name="api-reports-download"),
    path("classify", ClassifyView.as_view(), name="api-classify"),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ is a JSON 404 (not the site's HTML page).
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("health", health.live, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("detections.urls")),
    path("api/", include(api)),
]

handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"
