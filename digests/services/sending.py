"""Delivering digests: every chunk on every channel, retried on a schedule, behind a circuit
breaker per channel, lost never."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.background import task_enqueue_or_leave
from core.metrics import DELIVERIES
from core.retries import retry_at

from .. import addresses
from ..backends import DeliveryError, backend_get
from ..models import DigestDelivery
from .circuits import channels_blocked, circuit_admit, circuit_close, circuit_failure

logger = logging.getLogger(__name__)
Status = DigestDelivery.Status


def _address_of(delivery: DigestDelivery) -> dict:
    """Where a delivery goes: the recipients it was built with, else its audience's today (an
    operator who set them after the build need not rebuild)."""
    content = delivery.content
    if content.get("recipients") or content.get("webhook_url"):
        return content
    return addresses.audience_address(delivery.digest.audience, delivery.channel)


def delivery_address(delivery: DigestDelivery) -> None:
    """Give a delivery built without recipients its audience's, or raise DeliveryError: a delivery
    is never sent to nobody."""
    address = _address_of(delivery)
    if address is delivery.content:
        return
    if not (address.get("recipients") or address.get("webhook_url")):
        missing = addresses.missing_text(delivery.digest.audience, delivery.channel)
        raise DeliveryError(f"no recipients: {missing} (set them, or leave {delivery.channel} out)")
    delivery.content = {**delivery.content, **address}
    DigestDelivery.objects.filter(pk=delivery.pk).update(content=delivery.content)


def delivery_address_text(delivery: DigestDelivery) -> str:
    """Where a delivery goes, for an operator (as sending will address it)."""
    missing = addresses.missing_text(delivery.digest.audience, delivery.channel)
    return addresses.address_text(delivery.channel, _address_of(delivery), missing=missing)


def deliveries_send_enqueue() -> None:
    """Have a worker send soon (the every-minute task: bot runs checked, then due deliveries sent)."""
    from ..tasks import deliveries_runs_check_and_send

    task_enqueue_or_leave(deliveries_runs_check_and_send, what="digest sending")


# --- Sending ---------------------------------------------------------------------------------------


@dataclass
class SendReport:
    deployed: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    # Taken over from a sender that stopped mid-send (its lease expired): sent again, so it goes
    # out twice if the Control Room had already accepted the stopped sender's deploy.
    taken_over: list[int] = field(default_factory=list)


def deliveries_send_due(*, now: datetime | None = None, limit: int = 100) -> SendReport:
    """Send due deliveries one by one until none is due, the limit is reached, or circuits open.

    Each delivery is claimed with SELECT … FOR UPDATE SKIP LOCKED and leased for
    DIGEST_SEND_LEASE_SECONDS, so concurrent senders never send one delivery at the same time;
    a sender that dies leaves its claim to expire and the delivery is sent again.

    Sent again blind: if the dead sender's deploy had reached the Control Room, the bot runs
    twice. Looking the run up first would need a documented way to find a run by the automation
    name we gave it, and the Activity List documents none (integrations/automation_anywhere/client.py). Such a
    take-over is logged and counted (captpathfinder_digest_deliveries_total{outcome="taken_over"})
    so the gap is seen, and `make faults` measures it.
    """
    report = SendReport()
    backend = backend_get()
    _archived_cancel(now or timezone.now())
    for _ in range(limit):
        moment = now or timezone.now()
        claimed = _claim_next(moment)
        if claimed is None:
            break
        delivery, taken_over = claimed
        if taken_over:
            report.taken_over.append(delivery.pk)
        try:
            delivery_address(delivery)
        except DeliveryError as exc:  # not the channel's fault: its circuit is left alone
            status = delivery_failure_record(delivery, str(exc), now or timezone.now(), channel_failed=False)
            (report.dead if status == Status.DEAD else report.failed).append(delivery.pk)
            continue
        try:
            deployment_id = backend.send(delivery)
        except DeliveryError as exc:
            status = delivery_failure_record(delivery, str(exc), now or timezone.now())
            (report.dead if status == Status.DEAD else report.failed).append(delivery.pk)
        else:
            if backend.reports_runs:  # the Control Room queued a bot run: sent once it completes
                _record_deployed(delivery, deployment_id, now or timezone.now())
                report.deployed.append(delivery.pk)
            else:
                delivery_sent_record(delivery, now or timezone.now(), deployment_id=deployment_id)
                report.sent.append(delivery.pk)
    return report


def _claim_next(now: datetime) -> tuple[DigestDelivery, bool] | None:
    """The next due delivery, claimed, and whether it was taken over from a stopped sender."""
    with transaction.atomic():
        blocked = channels_blocked(now)
        due = Q(status__in=[Status.PENDING, Status.RETRYING], next_attempt_at__lte=now) | Q(
            status=Status.SENDING, claimed_until__lt=now
        )
        delivery = (
            DigestDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("digest__audience")
            .filter(due, digest__audience__archived_at__isnull=True)
            .exclude(channel__in=blocked)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        circuit_admit(delivery.channel, now)
        taken_over = delivery.status == Status.SENDING  # its lease expired: its sender stopped mid-send
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.claimed_until = now + timedelta(seconds=settings.DIGEST_SEND_LEASE_SECONDS)
        delivery.save(update_fields=["status", "attempts", "claimed_until", "updated_at"])
    if taken_over:
        DELIVERIES.labels(channel=delivery.channel, outcome="taken_over").inc()
        logger.warning(
            "delivery %s (%s) taken over from a sender that stopped mid-send, attempt %d: sending it again; "
            "if the Control Room had accepted that sender's deploy, the bot runs twice (its Activity List "
            "documents no filter that finds a run by its automation name)",
            delivery.pk,
            delivery.automation_name,
            delivery.attempts,
        )
    return delivery, taken_over


def _record_deployed(delivery: DigestDelivery, deployment_id: str, now: datetime) -> None:
    """The Control Room took the deploy: the channel answers (circuit closed); its run is read later."""
    with transaction.atomic():
        _deployed_update(delivery, deployment_id, now)
        circuit_close(delivery.channel)
    DELIVERIES.labels(channel=delivery.channel, outcome="deployed").inc()
    logger.info("delivery %s deployed (deployment %s): waiting for the bot run", delivery.pk, deployment_id)


def _deployed_update(delivery: DigestDelivery, deployment_id: str, now: datetime) -> None:
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.DEPLOYED,
        deployment_id=deployment_id[:255],
        deployed_at=now,
        run_status="",
        run_message="",
        run_checked_at=None,
        claimed_until=None,
        last_error="",
        updated_at=now,
    )


def delivery_sent_record(
    delivery: DigestDelivery, now: datetime, *, deployment_id: str | None = None, current: dict | None = None, **run
) -> bool:
    """The delivery went out (its bot run completed, or the console wrote it): sent, circuit closed.
    With `current` (e.g. deployed with this deployment id) only a delivery still in that state is
    changed; returns whether it was."""
    with transaction.atomic():
        values = {"deployment_id": deployment_id[:255]} if deployment_id is not None else {}
        changed = DigestDelivery.objects.filter(pk=delivery.pk, **(current or {})).update(
            status=Status.SENT, sent_at=now, claimed_until=None, last_error="", updated_at=now, **values, **run
        )
        if not changed:
            return False
        circuit_close(delivery.channel)
    DELIVERIES.labels(channel=delivery.channel, outcome="sent").inc()
    logger.info("delivery %s sent (deployment %s)", delivery.pk, deployment_id or delivery.deployment_id)
    return True


def delivery_failure_record(
    delivery: DigestDelivery,
    error: str,
    now: datetime,
    *,
    current: dict | None = None,
    channel_failed: bool = True,
    **run,
) -> str | None:
    """A failed attempt (the deploy, or its bot run): retried on the schedule, dead after the last.
    Returns the new status, or None when `current` no longer matched (someone else moved it on).
    `channel_failed` False: our configuration, not the channel, failed; its circuit is left alone."""
    retry = retry_at(settings.DIGEST_RETRY_SCHEDULE, delivery.attempts, now)  # attempts counts this one
    status, next_attempt = (Status.DEAD, now) if retry is None else (Status.RETRYING, retry)
    with transaction.atomic():
        changed = DigestDelivery.objects.filter(pk=delivery.pk, **(current or {})).update(
            status=status,
            next_attempt_at=next_attempt,
            claimed_until=None,
            last_error=error[:2000],
            updated_at=now,
            **run,
        )
        if not changed:
            return None
        if channel_failed:
            circuit_failure(delivery.channel, now)
    DELIVERIES.labels(channel=delivery.channel, outcome="dead" if status == Status.DEAD else "failed").inc()
    logger.warning("delivery %s failed (attempt %d, now %s): %s", delivery.pk, delivery.attempts, status, error)
    return status


def _archived_cancel(now: datetime) -> None:
    """Deliveries of a deleted audience that became due again (one handed to the bot when it was
    deleted, whose run then failed) are cancelled, not sent: nothing goes to a deleted audience."""
    cancelled = DigestDelivery.objects.filter(
        status__in=[Status.PENDING, Status.RETRYING], digest__audience__archived_at__isnull=False
    ).update(status=Status.CANCELLED, last_error="cancelled: its audience was deleted", updated_at=now)
    if cancelled:
        logger.info("%d deliveries cancelled: their audience was deleted", cancelled)
