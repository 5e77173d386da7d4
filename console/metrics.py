"""Gauges read from the database at each scrape, so they are right whichever process did the work."""

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from .selectors import (
    community_writeback_overview,
    crm_overview,
    deliveries_overview,
    event_backlog,
    events_set_aside,
    members_by_level,
    recent_detections_by_level,
)


class DatabaseCollector:
    """Backlog, queue lag, pending deliveries, members, recent detections."""

    def describe(self):
        # Registering would otherwise call collect(), i.e. query the database at start-up.
        return []

    def collect(self):
        now = timezone.now()
        try:
            backlog = event_backlog(now=now)
        except DatabaseError:
            yield _gauge("captpathfinder_database_up", "1 when the database answers the scrape's queries.", 0)
            return
        yield _gauge("captpathfinder_database_up", "1 when the database answers the scrape's queries.", 1)
        yield _gauge("captpathfinder_events_unprocessed", "Raw events waiting to be processed.", backlog["unprocessed"])
        yield _gauge(
            "captpathfinder_events_oldest_unprocessed_age_seconds",
            "Age of the oldest unprocessed raw event (queue lag); 0 when none.",
            backlog["oldest_unprocessed_age_seconds"] or 0,
        )
        set_aside = events_set_aside()
        yield _gauge(
            "captpathfinder_events_set_aside",
            "Raw events that could not be applied, set aside with their members until an operator retries them.",
            set_aside["events"],
        )
        deliveries = deliveries_overview()
        status = GaugeMetricFamily(
            "captpathfinder_digest_deliveries", "Digest deliveries by status.", labels=["status"]
        )
        for name in ("pending", "sending", "deployed", "failed_will_retry", "dead", "sent"):
            status.add_metric([name], deliveries[name])
        yield status
        yield _gauge(
            "captpathfinder_digest_oldest_unfinished_run_age_seconds",
            "Age of the oldest bot run the Control Room has not reported finished (deployed deliveries); 0 when none.",
            deliveries["oldest_unfinished_run_age_seconds"] or 0,
        )
        last_sent = GaugeMetricFamily(
            "captpathfinder_digest_last_sent_timestamp_seconds",
            "When a digest delivery last went out, per channel (0: never).",
            labels=["channel"],
        )
        for channel, sent_at in deliveries["last_sent_at"].items():
            last_sent.add_metric([channel], sent_at.timestamp() if sent_at else 0)
        yield last_sent
        members = GaugeMetricFamily(
            "captpathfinder_senior_members", "Current senior members by level.", labels=["level"]
        )
        recent = GaugeMetricFamily(
            "captpathfinder_detections_last_24h", "Detections in the last 24 hours by level.", labels=["level"]
        )
        counts, last_day = members_by_level(), recent_detections_by_level(now=now)
        for level in ("vp", "csuite"):
            members.add_metric([level], counts[level])
            recent.add_metric([level], last_day[level])
        yield members
        yield recent
        writeback = community_writeback_overview(now=now)
        grants = GaugeMetricFamily(
            "captpathfinder_community_writeback_changes",
            "Community write-back changes (roles and badges) by status: pending, failed, written.",
            labels=["status"],
        )
        for name in ("pending", "failed", "written"):
            grants.add_metric([name], writeback[name])
        yield grants
        yield _gauge(
            "captpathfinder_community_writeback_oldest_due_age_seconds",
            "How long the oldest due community write-back change has waited; 0 when none.",
            writeback["oldest_due_age_seconds"] or 0,
        )
        crm = crm_overview(now=now)
        handoffs = GaugeMetricFamily(
            "captpathfinder_crm_handoffs",
            "CRM hand-offs by status: pending, created, ambiguous, no_account, failed.",
            labels=["status"],
        )
        for name, count in crm["by_status"].items():
            handoffs.add_metric([name], count)
        yield handoffs
        yield _gauge(
            "captpathfinder_crm_handoff_oldest_waiting_age_seconds",
            "How long the oldest waiting CRM hand-off has waited; 0 when none.",
            crm["oldest_waiting_age_seconds"] or 0,
        )
        if crm["api_usage"] is not None:
            usage = GaugeMetricFamily(
                "captpathfinder_salesforce_api_usage",
                "The Salesforce org's API requests in the rolling day, from Sforce-Limit-Info: used and limit.",
                labels=["measure"],
            )
            usage.add_metric(["used"], crm["api_usage"]["used"])
            usage.add_metric(["limit"], crm["api_usage"]["limit"])
            yield usage


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
