"""The outcome of each delivery's bot run: a deploy only queues it.

A Control Room delivery is `deployed` once its deploy returns a deployment id. Every minute the
Control Room's Activity List is asked how each such run is doing: COMPLETED makes the delivery
`sent`; DEPLOY_FAILED, RUN_FAILED, RUN_ABORTED or RUN_TIMED_OUT is a failed attempt, retried on
the delivery's schedule like a failed deploy; anything else (still running, not listed yet, a
status the documentation does not name) leaves it deployed. A run that stays unfinished is never
deployed again on its own — it may still send — but shows in the admin, /api/stats and /metrics
(captpathfinder_digest_oldest_unfinished_run_age_seconds), with an alert after an hour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from integrations.automation_anywhere.client import ControlRoomClient, TransientControlRoomError

from ..models import DigestDelivery
from .sending import SendReport, deliveries_send_due, delivery_failure_record, delivery_sent_record

logger = logging.getLogger(__name__)
Status = DigestDelivery.Status
# How long after a look at a run the next one is due.
CHECK_EVERY = timedelta(seconds=30)


@dataclass
class RunsReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)


def deliveries_runs_check_and_send(
    *, now: datetime | None = None, check_every: timedelta = CHECK_EVERY
) -> tuple[RunsReport, SendReport]:
    """One step of delivering: first the outcome of runs already deployed (a failed one becomes
    due again), then sending what is due (sending.deliveries_send_due). What the every-minute task
    of the same name and send_digests do."""
    return deliveries_runs_check(now=now, every=check_every), deliveries_send_due(now=now)


def runs_check_and_send_summary(runs: RunsReport, sending: SendReport) -> str:
    taken_over = (
        f"; {len(sending.taken_over)} taken over from a sender that stopped mid-send (may go out twice)"
        if sending.taken_over
        else ""
    )
    return (
        f"deployed {len(sending.deployed)} (bot runs queued), sent {len(sending.sent) + len(runs.sent)}, "
        f"failed {len(sending.failed) + len(runs.failed)} (will retry), dead {len(sending.dead) + len(runs.dead)}, "
        f"runs not finished {len(runs.unfinished)}{taken_over}"
    )


def deliveries_runs_check(
    *, now: datetime | None = None, limit: int = 100, every: timedelta = CHECK_EVERY
) -> RunsReport:
    """Read the run of every deployed delivery not looked at within `every`, and record what it
    says — only on a delivery still deployed with that deployment id (a look that overlaps another,
    or an operator's resend, never lands on the wrong attempt). The Control Room being away ends
    the round: the rest are looked at next time, and sending goes on meanwhile."""
    report, client = RunsReport(), None
    for delivery in _deployed_claim(now or timezone.now(), limit, every):
        client = client or ControlRoomClient()
        try:
            run = client.run_report(delivery.deployment_id)
        except TransientControlRoomError as exc:
            logger.warning("bot runs not read: the Control Room is not answering (%s); next time", exc)
            report.unfinished.append(delivery.pk)
            break
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: what is unread is read next time
        except Exception:  # one run's odd answer must not stop the others, nor the sending after
            logger.exception("delivery %s: could not read its bot run", delivery.pk)
            report.unfinished.append(delivery.pk)
            continue
        moment = now or timezone.now()
        current = {"status": Status.DEPLOYED, "deployment_id": delivery.deployment_id}
        if run is None:
            _run_note(delivery, "NOT_LISTED", "the Control Room does not list the run yet", moment)
            report.unfinished.append(delivery.pk)
        elif run.completed:
            if delivery_sent_record(delivery, moment, current=current, run_status=run.status, run_message=run.message):
                report.sent.append(delivery.pk)
        elif run.failed:
            record = {"current": current, "run_status": run.status, "run_message": run.message}
            status = delivery_failure_record(delivery, run.describe(), moment, **record)
            if status is not None:
                (report.dead if status == Status.DEAD else report.failed).append(delivery.pk)
        else:
            _run_note(delivery, run.status, run.message, moment)
            report.unfinished.append(delivery.pk)
    return report


def _deployed_claim(now: datetime, limit: int, every: timedelta) -> list[DigestDelivery]:
    """Deployed deliveries not looked at within `every`, marked as looked at now, so
    concurrent workers share them out (SKIP LOCKED) instead of asking twice."""
    with transaction.atomic():
        deliveries = list(
            DigestDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.DEPLOYED)
            .exclude(run_checked_at__gt=now - every)
            .order_by("deployed_at", "id")[:limit]
        )
        DigestDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(run_checked_at=now)
    return deliveries


def _run_note(delivery: DigestDelivery, status: str, message: str, now: datetime) -> None:
    DigestDelivery.objects.filter(pk=delivery.pk, status=Status.DEPLOYED, deployment_id=delivery.deployment_id).update(
        run_status=status[:40], run_message=message[:2000], run_checked_at=now, updated_at=now
    )
