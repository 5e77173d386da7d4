"""An operator's "send now" and resend of deliveries (admin, API, command), audited in the same
transaction as the change. They only make deliveries due again; the callers then have the
sending run (`sending.deliveries_send_enqueue`, or the command sends in place).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from access.services import audit_record

from ..models import DigestDelivery

Status = DigestDelivery.Status


def deliveries_make_due(*, user, via: str, delivery_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """An operator's "send now" (audited `delivery.send_now`): pending and retrying deliveries
    (all, or those of `delivery_ids`) become due immediately (dead ones need a resend)."""
    queryset = DigestDelivery.objects.filter(
        status__in=[Status.PENDING, Status.RETRYING], digest__audience__archived_at__isnull=True
    )
    if delivery_ids is not None:
        queryset = queryset.filter(pk__in=delivery_ids)
    with transaction.atomic():
        due = queryset.update(next_attempt_at=now or timezone.now())
        _deliveries_audit(user, "delivery.send_now", via=via, count=due, delivery_ids=delivery_ids, what="")
    return due


def deliveries_resend(*, user, via: str, delivery_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """An operator's resend (audited `delivery.resend`): dead deliveries (or the chosen ones,
    whatever their state but sending or cancelled) get a fresh start. A cancelled delivery's
    audience was deleted: it is never sent again."""
    queryset = DigestDelivery.objects.exclude(status__in=[Status.SENDING, Status.CANCELLED]).filter(
        digest__audience__archived_at__isnull=True
    )
    queryset = queryset.filter(pk__in=delivery_ids) if delivery_ids is not None else queryset.filter(status=Status.DEAD)
    with transaction.atomic():
        count = queryset.update(
            status=Status.PENDING, attempts=0, next_attempt_at=now or timezone.now(), claimed_until=None
        )
        _deliveries_audit(user, "delivery.resend", via=via, count=count, delivery_ids=delivery_ids, what="dead ")
    return count


def _deliveries_audit(user, action: str, *, via: str, count: int, delivery_ids: list[int] | None, what: str) -> None:
    """The chosen deliveries by id (the admin's selection), or how many of all were touched."""
    if delivery_ids is None:
        audit_record(user, action, via=via, target=f"{count} {what}deliveries")
    else:
        audit_record(user, action, via=via, target=f"{len(delivery_ids)} deliveries", deliveries=delivery_ids)
