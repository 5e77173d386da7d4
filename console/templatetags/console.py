"""The admin index's health panel: the on-call view at a glance."""

from django import template
from django.utils import timezone

from core.schedules import schedules_next_runs
from digests.selectors import WEEKLY_TASK

from ..selectors import deliveries_overview, detections_since, event_backlog, latest_report, members_by_level

register = template.Library()


@register.inclusion_tag("admin/console_health.html", takes_context=True)
def console_health(context):
    """The panel, for a user who may read the same figures through GET /api/stats."""
    from ..api import StatsView

    if not context["request"].user.has_perms(StatsView.required_permissions):
        return {"hidden": True}
    now = timezone.now()
    schedules = schedules_next_runs(now=now)
    return {
        "members": members_by_level(),
        "detections": detections_since(now=now),
        "backlog": event_backlog(now=now),
        "deliveries": deliveries_overview(now=now),
        "schedules": schedules,
        # When the detections waiting for a digest go out: the weekly build's next run (None: paused).
        "next_digest_at": next((row["next_run_at"] for row in schedules if row["task"] == WEEKLY_TASK), None),
        "report": latest_report(),
    }
