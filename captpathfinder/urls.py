from django.contrib import admin
from django.urls import include, path

from . import health, metrics

urlpatterns = [
    path("health", health.live, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("detections.urls")),
    path("api/", include("captpathfinder.api_urls")),
]

handler400 = "captpathfinder.errors.bad_request"
handler403 = "captpathfinder.errors.permission_denied"
handler404 = "captpathfinder.errors.page_not_found"
handler500 = "captpathfinder.errors.server_error"
