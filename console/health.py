"""GET /health (alive) and GET /health/ready (able to do the work), for orchestrators and on-call.

Both are public and say nothing secret: check names, ok/failed and our own short reasons. A
failure's underlying error (a database driver's text names hosts and ports) is shown only to
staff or a caller with the METRICS_TOKEN.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.metrics import operator_or_scraper

from .selectors import event_backlog, events_set_aside


class NotReady(RuntimeError):
    """A check's own finding, worded for anyone to read."""


@never_cache
@require_GET
def live(request):
    """The process answers. No dependency is checked, so a database outage does not restart it."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "reachable"


def _check_broker() -> str:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    return "reachable"


def _check_beat() -> str:
    """Beat runs the outbox sweep every minute; a stale last run means beat is down."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.filter(task="detections.tasks.events_sweep_unprocessed").first()
    if task is None:
        raise NotReady("the outbox sweep schedule is missing: run manage.py sync_schedules")
    # Before beat's first run, count from when the schedule was written (a fresh start is not an outage).
    last_run = task.last_run_at or task.date_changed
    silence = timezone.now() - last_run
    if silence > timedelta(seconds=settings.READY_MAX_BEAT_SILENCE_SECONDS):
        raise NotReady(f"last beat run {int(silence.total_seconds())} s ago")
    return f"last run {int(silence.total_seconds())} s ago"


def _check_backlog() -> str:
    backlog = event_backlog(now=timezone.now())
    age = backlog["oldest_unprocessed_age_seconds"] or 0
    if age > settings.READY_MAX_BACKLOG_SECONDS:
        raise NotReady(f"{backlog['unprocessed']} events waiting, oldest {int(age)} s")
    return f"{backlog['unprocessed']} events waiting"


def _check_set_aside() -> str:
    """Members whose events could not be applied: reported, never "not ready" — the webhook and
    everyone else's events go on, and an orchestrator restarting the service would not help."""
    set_aside = events_set_aside()
    if not set_aside["events"]:
        return "none"
    events, members = set_aside["events"], set_aside["members"]
    return (
        f"{events} event{'s' * (events != 1)} of {members} member{'s' * (members != 1)} set aside: "
        "retry in the admin (Raw events, outcome failed)"
    )


CHECKS = {
    "database": _check_database,
    "broker": _check_broker,
    "beat": _check_beat,
    "backlog": _check_backlog,
    "set_aside": _check_set_aside,
}


@never_cache
@require_GET
def ready(request):
    results, ok = {}, True
    for name, check in CHECKS.items():
        try:
            results[name] = {"ok": True, "detail": check()}
        except Exception as exc:  # every failure is a "not ready", never a 500
            ok = False
            results[name] = {"ok": False, "detail": _failure_text(exc, request)}
            if name == "database":  # the others read the database too
                skipped = {"ok": False, "detail": "skipped: no database"}
                results.update({other: skipped for other in CHECKS if other != name})
                break
    return JsonResponse({"status": "ready" if ok else "not_ready", "checks": results}, status=200 if ok else 503)


def _failure_text(exc: Exception, request) -> str:
    if isinstance(exc, NotReady) or _privileged(request):
        return str(exc)[:200] or exc.__class__.__name__
    return f"unavailable ({exc.__class__.__name__}; details for staff or with the metrics token)"


def _privileged(request) -> bool:
    """Staff or the metrics token. Asked only once a check failed, and never fatal: a staff
    session is read from the database, which may be the thing that is down."""
    try:
        return operator_or_scraper(request)
    except Exception:
        return False
