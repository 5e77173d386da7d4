"""The admin index's health panel: the on-call view at a glance."""

from django import template
from django.utils import timezone

from ..selectors import deliveries_overview, detections_since, event_backlog, members_by_level, schedules_next_runs

register = template.Library()


@register.inclusion_tag("admin/console_health.html")
def console_health():
    now = timezone.now()
    return {
        "members": members_by_level(),
        "detections": detections_since(now=now),
        "backlog": event_backlog(now=now),
        "deliveries": deliveries_overview(),
        "schedules": schedules_next_runs(now=now),
    }
