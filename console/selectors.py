"""Figures across the apps: GET /api/stats, the admin's health panel and the metrics gauges."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from classification.models import Function, Level
from classification.services import ruleset_active
from crm.selectors import api_usage, handoffs_overview, paused_until
from detections.models import CommunityGrant, Detection, PendingEvent, RawEvent, SeniorMember
from detections.services.writeback import writeback_targets
from digests.models import Channel, DigestDelivery
from reports.models import Report

Status = DigestDelivery.Status


def members_by_level() -> dict[str, int]:
    counts = SeniorMember.objects.aggregate(
        total=Count("user_id"), **{level: Count("user_id", filter=Q(level=level)) for level in Level.values}
    )
    return counts


def members_by_function() -> dict[str, int]:
    counts = dict(SeniorMember.objects.values_list("function").annotate(n=Count("user_id")).order_by())
    return {function: counts.get(function, 0) for function in Function.values}


def recent_detections_by_level(*, now: datetime, hours: int = 24) -> dict[str, int]:
    since = now - timedelta(hours=hours)
    return Detection.objects.filter(detected_at__gte=since).aggregate(
        **{level: Count("id", filter=Q(level=level)) for level in Level.values}
    )


def event_backlog(*, now: datetime) -> dict:
    """Raw events waiting to be processed, and how long the oldest has waited."""
    backlog = PendingEvent.objects.aggregate(n=Count("event_id"), oldest=Min("received_at"))
    oldest = backlog["oldest"]
    return {
        "unprocessed": backlog["n"],
        "oldest_unprocessed_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


def events_set_aside() -> dict:
    """Events that could not be applied, and the members they belong to (set aside until retried)."""
    return RawEvent.objects.filter(outcome=RawEvent.Outcome.FAILED).aggregate(
        events=Count("id"), members=Count("user_id", distinct=True)
    )


def deliveries_overview(*, now: datetime | None = None) -> dict:
    counts = dict(DigestDelivery.objects.values_list("status").annotate(n=Count("id")).order_by())
    oldest_run = DigestDelivery.objects.filter(status=Status.DEPLOYED).aggregate(at=Min("deployed_at"))["at"]
    last_sent = dict(
        DigestDelivery.objects.filter(status=Status.SENT).values_list("channel").annotate(at=Max("sent_at")).order_by()
    )
    return {
        "pending": counts.get(Status.PENDING, 0),
        "sending": counts.get(Status.SENDING, 0),
        "deployed": counts.get(Status.DEPLOYED, 0),
        "oldest_unfinished_run_age_seconds": (
            round(((now or timezone.now()) - oldest_run).total_seconds(), 1) if oldest_run else None
        ),
        "failed_will_retry": counts.get(Status.RETRYING, 0),
        "dead": counts.get(Status.DEAD, 0),
        "sent": counts.get(Status.SENT, 0),
        "last_sent_at": {channel: last_sent.get(channel) for channel in Channel.values},
    }


def community_writeback_overview(*, now: datetime) -> dict:
    """The community write-back's changes by status, and how long the oldest due one has waited."""
    counts = dict(CommunityGrant.objects.values_list("status").annotate(n=Count("id")).order_by())
    oldest = CommunityGrant.objects.filter(status=CommunityGrant.Status.PENDING, next_attempt_at__lte=now).aggregate(
        at=Min("next_attempt_at")
    )["at"]
    return {
        "enabled": bool(writeback_targets()),
        "pending": counts.get(CommunityGrant.Status.PENDING, 0),
        "failed": counts.get(CommunityGrant.Status.FAILED, 0),
        "written": counts.get(CommunityGrant.Status.DONE, 0),
        "oldest_due_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


def detections_since(*, now: datetime) -> dict:
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    counts = Detection.objects.aggregate(
        last_7_days=Count("id", filter=Q(detected_at__gte=week)),
        last_30_days=Count("id", filter=Q(detected_at__gte=month)),
        promotions_last_30_days=Count("id", filter=Q(detected_at__gte=month, kind=Detection.Kind.PROMOTION)),
    )
    # No audience has received them yet (in a digest or an alert), nor left them out.
    counts["not_yet_in_a_digest"] = Detection.objects.filter(receipts__isnull=True).count()
    return counts


def latest_report() -> dict | None:
    report = Report.objects.order_by("-month").first()
    if report is None:
        return None
    return {
        "month": f"{report.month:%Y-%m}",
        "status": report.status,
        "complete": report.is_complete,
        "generated_at": report.generated_at,
        "detection_count": report.detection_count,
    }


def crm_overview(*, now: datetime) -> dict:
    """The CRM hand-off's counts, its pause and the org's API usage (crm.selectors, crm.services)."""
    usage = api_usage()
    return {
        "enabled": settings.CRM_HANDOFF_ENABLED,
        **handoffs_overview(now=now),
        "paused_until": paused_until(now=now),
        "api_usage": {"used": usage.used, "limit": usage.limit} if usage else None,
    }


def stats_overview(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "generated_at": now,
        "members": members_by_level(),
        "members_by_function": members_by_function(),
        "detections": detections_since(now=now),
        "events": {**event_backlog(now=now), **{f"set_aside_{k}": v for k, v in events_set_aside().items()}},
        "deliveries": deliveries_overview(),
        "community_writeback": community_writeback_overview(now=now),
        "crm": crm_overview(now=now),
        "latest_report": latest_report(),
        "rules_version": ruleset_active().version,
    }
