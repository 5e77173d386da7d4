"""Celery tasks: thin callers of detections.services, each owning its retry policy."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, close_old_connections

from core.database import statements_interrupted_cancel
from integrations.insided.client import TRANSIENT_ERRORS

from .services import enrichment, housekeeping, processing, writeback

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(DatabaseError, SoftTimeLimitExceeded),
    retry_backoff=2,
    retry_backoff_max=300,
    max_retries=20,
    acks_late=True,
)
def events_process_member(user_id: str) -> int:
    """Apply a member's pending events. Safe to run twice: applied events are marked in the
    same transaction, and a repeat finds nothing left. A database outage, or a run past the soft
    time limit (its transaction rolled back), is retried; if the retries run out, the outbox sweep
    enqueues the member again. A registration whose community profile cannot be had for now
    leaves the events pending and ends the task: the outbox sweep tries the member again."""
    try:
        return processing.member_events_process(user_id=user_id)
    except TRANSIENT_ERRORS as exc:
        # No Celery retry: the sweep enqueues the member every minute while its events are
        # pending, for as long as the outage lasts, so retries would only add chains beside it,
        # more of them at each sweep, and a retry schedule would end while the outage may not.
        logger.warning("member %s: registration waits for the community (the outbox sweep retries): %s", user_id, exc)
        return 0


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=2, retry_backoff_max=60, max_retries=20, acks_late=True)
def events_process_pending() -> int:
    """Apply pending events in batches until none is left (or a few seconds have passed, then
    hand over to a fresh task so other work is not starved). Safe to run any number at once.

    Past the soft time limit the batch in progress is rolled back, and every member with pending
    events gets a task of its own: a member too slow to apply then holds up only itself, not the
    500 that would share its batch again at the next wake-up."""
    try:
        applied, more = processing.events_drain()
    except SoftTimeLimitExceeded:
        logger.warning("events batch past its soft time limit: rolled back, handing its members to their own tasks")
        statements_interrupted_cancel()  # one still running on the server holds the batch's member locks
        close_old_connections()
        processing.events_sweep_unprocessed(older_than_seconds=0)
        return 0
    if more:
        events_process_pending.delay()
    return applied


@shared_task(expires=50)
def events_sweep_unprocessed() -> int:
    return processing.events_sweep_unprocessed()


@shared_task(
    bind=True,
    autoretry_for=(DatabaseError, *TRANSIENT_ERRORS),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=16,
)
def member_enrich(self, user_id: str) -> bool:
    """Fill a new member's company, country and join date from the community profile.

    The community being unavailable or not reached, or the database being away, is retried with
    backoff: each wait random up to 1, 2, 4 … minutes, then up to 30 (kept under the broker's
    one-hour visibility timeout, past which Redis would deliver a waiting retry twice), about three
    hours in all. The last try records a community failure on the member (enrichment_error) for
    the operator instead of raising it; a permanent failure is recorded at once."""
    return enrichment.member_enrich(user_id=user_id, final=self.request.retries >= self.max_retries)


@shared_task(expires=3600)
def events_purge_old() -> int:
    return housekeeping.events_purge_old()


@shared_task(expires=50, autoretry_for=(DatabaseError,), retry_backoff=5, max_retries=5)
def community_grants_write_due() -> dict:
    """Write the community roles and badges that are due. One writer at a time: a run that finds
    another writing leaves it the work. Changes the community did not answer wait for their retry time."""
    if not writeback.writeback_targets():
        return {}
    report = writeback.grants_write_due()
    if report.more and not report.retrying:  # the time budget ran out: carry on in a fresh task
        writeback.grants_write_enqueue()
    return vars(report)


@shared_task(expires=3600)
def community_reconcile() -> dict:
    """Ask for and write every difference between the community's role and badge holders and the
    senior members (`manage.py community_sync` on a schedule)."""
    if not writeback.writeback_targets():
        return {}
    report = writeback.community_sync(dry_run=False)
    drift = {str(d.target): {"give": len(d.give), "take": len(d.take)} for d in report.drift}
    logger.info("community reconciled: drift %s, %s", drift, report.write)
    return drift
