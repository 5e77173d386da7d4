"""The admin index's health panel: the on-call view at a glance."""

from datetime import date, timedelta

from django import template
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from core.schedules import schedules_next_runs
from detections.models import Detection, RawEvent, SeniorMember
from digests.models import DigestDelivery
from digests.selectors import WEEKLY_TASK
from reports.models import Report

from ..selectors import (
    deliveries_overview,
    detections_since,
    event_backlog,
    events_set_aside,
    latest_report,
    members_by_level,
)

register = template.Library()

# Celery beat adds its result-backend cleanup on its own; nobody here owns or pauses it.
HIDDEN_SCHEDULES = {"celery.backend_cleanup"}


def _changelist(model: type[Model], **filters) -> str:
    """An admin change list, filtered by parameters its list_filter offers (any other gives ?e=1)."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def _links(*, now) -> dict[str, str]:
    """Where each figure of the panel is counted: the change list that shows the same rows."""
    Status = DigestDelivery.Status
    deliveries = {status: _changelist(DigestDelivery, status__exact=status) for status in Status.values}
    return {
        "members": _changelist(SeniorMember),
        "members_csuite": _changelist(SeniorMember, level__exact="csuite"),
        "members_vp": _changelist(SeniorMember, level__exact="vp"),
        # The same rolling windows as detections_since (DateFieldListFilter's own parameters).
        **{
            f"detections_{days}_days": _changelist(Detection, detected_at__gte=(now - timedelta(days=days)).isoformat())
            for days in (7, 30)
        },
        "detections_waiting": _changelist(Detection, receipts__isempty=1),
        "events_unprocessed": _changelist(RawEvent, processed_at__isempty=1),
        "events_set_aside": _changelist(RawEvent, outcome__exact=RawEvent.Outcome.FAILED),
        **{f"deliveries_{status}": url for status, url in deliveries.items()},
        "reports": _changelist(Report),
    }


@register.inclusion_tag("admin/console_health.html", takes_context=True)
def console_health(context):
    """The panel, for a user who may read the same figures through GET /api/stats."""
    from ..api import StatsView

    if not context["request"].user.has_perms(StatsView.required_permissions):
        return {"hidden": True}
    now = timezone.now()
    schedules = schedules_next_runs(now=now)
    report = latest_report()
    if report is not None:
        # "2026-12" in the API; the panel writes the month as the admin does (YEAR_MONTH_FORMAT).
        report["month_first_day"] = date.fromisoformat(f"{report['month']}-01")
    deliveries = deliveries_overview(now=now)
    last_sent = [
        {
            "channel": channel,
            "at": at,
            "link": _changelist(DigestDelivery, status__exact=DigestDelivery.Status.SENT, channel__exact=channel),
        }
        for channel, at in deliveries["last_sent_at"].items()
    ]
    return {
        "members": members_by_level(),
        "detections": detections_since(now=now),
        "backlog": event_backlog(now=now),
        "set_aside": events_set_aside(),
        "deliveries": deliveries,
        "last_sent": last_sent,
        "schedules": [row for row in schedules if row["task"] not in HIDDEN_SCHEDULES],
        # When the detections waiting for a digest go out: the weekly build's next run (None: paused).
        "next_digest_at": next((row["next_run_at"] for row in schedules if row["task"] == WEEKLY_TASK), None),
        "report": report,
        "links": _links(now=now),
    }
