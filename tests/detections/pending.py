"""The pending list's invariant, for tests to check: an event is pending exactly while unprocessed."""

from detections.models import PendingEvent, RawEvent


def assert_pending_is_unprocessed() -> None:
    unprocessed = set(RawEvent.objects.filter(processed_at__isnull=True).values_list("id", flat=True))
    assert set(PendingEvent.objects.values_list("event_id", flat=True)) == unprocessed


def events_unprocess_all() -> None:
    """Every event unprocessed and pending again, as intake left it (to apply them a second way)."""
    RawEvent.objects.update(processed_at=None, outcome="")
    PendingEvent.objects.bulk_create(
        [PendingEvent(event_id=e.id, user_id=e.user_id, received_at=e.received_at) for e in RawEvent.objects.all()],
        ignore_conflicts=True,
    )
