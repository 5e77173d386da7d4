"""What the CRM hand-off has done: counts for the panel, /api/stats and /metrics, and the
detections still without a Task."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q
from django.utils import timezone

from detections.models import Detection

from .models import Handoff


def handoffs_overview(*, now: datetime | None = None) -> dict:
    """Hand-offs by status, and the age of the oldest one waiting (None: none waits)."""
    now = now or timezone.now()
    counts = dict(Handoff.objects.values_list("status").annotate(n=Count("pk")))
    oldest = Handoff.objects.filter(status=Handoff.Status.PENDING).aggregate(at=Min("created_at"))["at"]
    return {
        "by_status": {status: counts.get(status, 0) for status in Handoff.Status.values},
        "oldest_waiting_age_seconds": round((now - oldest).total_seconds()) if oldest else None,
    }


def detections_without_task(*, since: datetime, levels: list[str], kinds: list[str]):
    """Detections at these levels and kinds since `since` that have no Task: no hand-off yet, or one
    that has not created it (waiting, ambiguous, no account, failed), with the hand-off when there is one."""
    return (
        Detection.objects.filter(level__in=levels, kind__in=kinds, detected_at__gte=since)
        .filter(Q(salesforce_handoff__isnull=True) | ~Q(salesforce_handoff__status=Handoff.Status.CREATED))
        .select_related("salesforce_handoff")
        .order_by("detected_at", "pk")
    )
