"""python manage.py crm_sync [--dry-run] [--since YYYY-MM-DD]: the detections without a Salesforce
Task, listed, and their hand-offs made now."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.dates import moment_text
from integrations.salesforce.client import salesforce_configured

from ...selectors import detections_without_task
from ...services.operator_actions import crm_sync


class Command(BaseCommand):
    help = (
        "List the detections at CRM_HANDOFF_LEVELS and of CRM_HANDOFF_KINDS that have no Salesforce Task, "
        "then hand them off (--dry-run: only list)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List them; create nothing.")
        parser.add_argument(
            "--since",
            type=_day,
            help="From this day (New York time; default: CRM_HANDOFF_LOOKBACK_HOURS back).",
        )

    def handle(self, *args, dry_run: bool, since: datetime | None, **options):
        now = timezone.now()
        since = since or now - timedelta(hours=settings.CRM_HANDOFF_LOOKBACK_HOURS)
        missing = list(detections_without_task(since=since))
        for detection in missing:
            handoff = getattr(detection, "salesforce_handoff", None)
            state = "no hand-off yet" if handoff is None else handoff.get_status_display()
            why = (handoff.last_error or handoff.answer) if handoff is not None else ""
            self.stdout.write(
                f"detection #{detection.pk} {moment_text(detection.detected_at)} "
                f"{detection.username or detection.user_id}, {detection.title} "
                f"({detection.get_level_display()}, {detection.get_kind_display().lower()}): {state}"
                + (f" — {why}" if why else "")
            )
        have = "has" if len(missing) == 1 else "have"
        self.stdout.write(f"{_count(len(missing), 'detection')} since {moment_text(since)} {have} no Salesforce Task.")
        if dry_run:
            return
        if not settings.CRM_HANDOFF_ENABLED or not salesforce_configured():
            raise CommandError(
                "The CRM hand-off is off: set CRM_HANDOFF_ENABLED and SALESFORCE_LOGIN_URL, _CLIENT_ID, _CLIENT_SECRET."
            )
        found, retried, report = crm_sync(since=since, now=now, user=None, via="command")
        if report.busy:
            self.stdout.write("Another run is handing off right now; what it leaves is handed off by the next run.")
        self.stdout.write(
            f"{_count(found, 'hand-off')} added, {retried} tried again; {_count(report.created, 'Task')} created, "
            f"{report.ambiguous} ambiguous, {report.no_account} without an account, "
            f"{report.retrying} to retry, {report.failed} failed."
            + (f" Paused until {moment_text(report.paused_until)}: the org's API limit." if report.paused_until else "")
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _day(text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{text!r} is not a day (YYYY-MM-DD)") from None
    return timezone.make_aware(datetime.combine(day, time.min))
