"""Raw events are kept EVENTS_RETENTION_DAYS (the daily purge), never while still unprocessed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import RawEvent


def events_purge_old(*, retention_days: int | None = None, batch_size: int | None = None) -> int:
    """Delete processed raw events past retention, in batches so no statement locks for long.

    Unprocessed events are kept whatever their age: deleting them would lose a change. So are
    failed ones (set aside until an operator retries them).
    """
    days = settings.EVENTS_RETENTION_DAYS if retention_days is None else retention_days
    size = batch_size or settings.EVENTS_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=days)
    expired = (
        RawEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False)
        .exclude(outcome=RawEvent.Outcome.FAILED)
        .order_by("id")
    )
    total = 0
    while True:
        ids = list(expired.values_list("id", flat=True)[:size])
        if not ids:
            return total
        total += RawEvent.objects.filter(id__in=ids).delete()[0]
