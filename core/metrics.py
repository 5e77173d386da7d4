"""Prometheus metrics: what happens (counters, histograms), and the /metrics view.

Request rate, latency and errors by view come from django-prometheus's metrics, recorded by a
lean middleware (`RequestMetricsMiddleware`). The web, worker and beat processes each count what
they do; with PROMETHEUS_MULTIPROC_DIR set (make run, docker-compose) they share one directory and
/metrics adds them up. What is (queue lag, backlog, members) is read from the database at scrape
time by collectors the apps register (`collector_register`; the console's gauges).
"""

from __future__ import annotations

import hmac
import os
import time
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django_prometheus.middleware import PrometheusAfterMiddleware
from django_prometheus.utils import Time, TimeSince
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

WEBHOOKS = Counter(
    "captpathfinder_webhooks_total",
    "Webhook deliveries by outcome (accepted, duplicate, ignored, rejected_<status>).",
    ["outcome"],
)
CLASSIFICATIONS = Counter("captpathfinder_classifications_total", "Job titles classified, by level.", ["level"])
CLASSIFY_SECONDS = Histogram(
    "captpathfinder_classification_seconds",
    "Time to classify one job title.",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
DETECTIONS = Counter("captpathfinder_detections_total", "Detections recorded, by kind and level.", ["kind", "level"])
EVENTS_FAILED = Counter(
    "captpathfinder_events_failed_total", "Raw events that could not be applied and were set aside with their member."
)
COMMUNITY_FIELDS_MISSING = Counter(
    "captpathfinder_community_fields_missing_total",
    "Community profiles read without a configured profile field (COMMUNITY_FIELD_*), by field name.",
    ["field"],
)
COMMUNITY_WRITES = Counter(
    "captpathfinder_community_writes_total",
    "Community write-back attempts by kind (role, badge), action (give, take) and outcome "
    "(written, retrying, failed, superseded).",
    ["kind", "action", "outcome"],
)
CRM_HANDOFFS = Counter(
    "captpathfinder_crm_handoffs_total",
    "CRM hand-off attempts by outcome (created, ambiguous, no_account, retrying, failed, paused).",
    ["outcome"],
)
DELIVERIES = Counter(
    "captpathfinder_digest_deliveries_total", "Digest delivery attempts by channel and outcome.", ["channel", "outcome"]
)
AA_CALL_SECONDS = Histogram(
    "captpathfinder_control_room_request_seconds",
    "Automation Anywhere Control Room calls, by endpoint and outcome.",
    ["endpoint", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REPORT_SECONDS = Histogram(
    "captpathfinder_report_generation_seconds",
    "Time to generate a month-end report.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


@contextmanager
def timed(histogram: Histogram, **labels):
    """Observe the block's duration; labels may be completed inside through the yielded dict."""
    started = time.perf_counter()
    extra: dict = {}
    try:
        yield extra
    finally:
        metric = histogram.labels(**labels, **extra) if (labels or extra) else histogram
        metric.observe(time.perf_counter() - started)


# Collectors read at scrape time (the console's database gauges), registered by the apps that own
# them: this module imports no app.
_COLLECTORS: list = []


def collector_register(collector) -> None:
    """Add a collector to every scrape (in multi-process mode too, where the registry is built per scrape)."""
    _COLLECTORS.append(collector)
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        REGISTRY.register(collector)


def registry_for_scrape():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        for collector in _COLLECTORS:
            registry.register(collector)
        return registry
    return REGISTRY


def operator_or_scraper(request) -> bool:
    """A scraper with the METRICS_TOKEN bearer token, or a staff session: may read internals."""
    header = request.headers.get("Authorization", "")
    token = settings.METRICS_TOKEN
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff)


@never_cache
def metrics_view(request):
    """Prometheus text format, for a scraper with the METRICS_TOKEN bearer token or a staff session."""
    if not operator_or_scraper(request):
        return JsonResponse(
            {"error": "not_authenticated", "detail": "Metrics need 'Authorization: Bearer <METRICS_TOKEN>' or staff."},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus's request metrics, only the series dashboards and alerts read.

    Its two middlewares write about sixteen values per request (method, transport, body
    sizes, charset, …); in multi-process mode each write takes a lock and touches a memory-mapped
    file, which cost the webhook more than storing its event. This keeps django-prometheus's
    metric names and labels — responses by status/view/method, latency by view/method,
    exceptions by type and view — and drops the rest.
    """

    def process_request(self, request):
        request.prometheus_after_middleware_event = Time()

    def process_view(self, request, view_func, *view_args, **view_kwargs):
        return None

    def _get_view_name(self, request):
        return view_label(request)

    def process_response(self, request, response):
        method, view = self._method(request), self._get_view_name(request)
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method
        ).inc()
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            self.metrics.requests_latency_by_view_method.labels(view=view, method=method).observe(TimeSince(started))
        return response

    def process_exception(self, request, exception):
        # The response Django makes of the exception passes process_response: count the
        # exception here, its status and latency there.
        request_exception_count(request, exception)


def request_exception_count(request, exception: Exception) -> None:
    """Count an exception a view raised, by type and view (also for a middleware that answers
    before Django's view handling, where process_exception is not called)."""
    metrics = RequestMetricsMiddleware.metrics_cls.get_instance()
    metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
    metrics.exceptions_by_view.labels(view=view_label(request)).inc()


def view_label(request) -> str:
    """The `view` label of the request series: the URL name, as django-prometheus names it."""
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match else None) or "<unnamed view>"
