"""What the CRM hand-off has done and has to do: the detections it hands off, counts for the panel,
/api/stats and /metrics, its pause and the org's API usage."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from detections.models import Detection
from integrations.salesforce.client import ApiUsage

from .models import Handoff

PAUSED_KEY = "crm:paused-until"
USAGE_KEY = "crm:api-usage"


def detections_handed_off(*, since: datetime) -> QuerySet[Detection]:
    """The detections the hand-off is for: at CRM_HANDOFF_LEVELS, of CRM_HANDOFF_KINDS, detected since `since`."""
    return Detection.objects.filter(
        level__in=settings.CRM_HANDOFF_LEVELS, kind__in=settings.CRM_HANDOFF_KINDS, detected_at__gte=since
    ).order_by("detected_at", "pk")


def detections_without_handoff(*, since: datetime) -> QuerySet[Detection]:
    return detections_handed_off(since=since).filter(salesforce_handoff__isnull=True)


def detections_without_task(*, since: datetime) -> QuerySet[Detection]:
    """Those without a Task: no hand-off yet, or one that has not created it (waiting, ambiguous, no
    account, failed), with the hand-off when there is one."""
    return (
        detections_handed_off(since=since)
        .filter(Q(salesforce_handoff__isnull=True) | ~Q(salesforce_handoff__status=Handoff.Status.CREATED))
        .select_related("salesforce_handoff")
    )


def handoffs_overview(*, now: datetime | None = None) -> dict:
    """Hand-offs by status, and the age of the oldest one waiting (None: none waits)."""
    now = now or timezone.now()
    counts = dict(Handoff.objects.values_list("status").annotate(n=Count("pk")).order_by())
    oldest = Handoff.objects.filter(status=Handoff.Status.PENDING).aggregate(at=Min("created_at"))["at"]
    return {
        "by_status": {status: counts.get(status, 0) for status in Handoff.Status.values},
        "oldest_waiting_age_seconds": round((now - oldest).total_seconds()) if oldest else None,
    }


def paused_until(*, now: datetime | None = None) -> datetime | None:
    """Until when the hand-off is paused (the org's daily API limit was reached); None: not paused."""
    until = cache.get(PAUSED_KEY)
    now = now or timezone.now()
    return until if until and until > now else None


def api_usage() -> ApiUsage | None:
    """The org's API usage as the latest reply reported it (Sforce-Limit-Info)."""
    return cache.get(USAGE_KEY)
