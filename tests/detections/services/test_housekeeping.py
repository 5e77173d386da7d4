"""The daily purge of raw events past retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from detections.models import Detection, RawEvent
from detections.services.housekeeping import events_purge_old
from detections.services.processing import events_drain
from tests.detections.pending import assert_pending_is_unprocessed
from tests.detections.services.helpers import receive
from tests.factories import RawEventFactory

pytestmark = pytest.mark.django_db


def test_purge_deletes_processed_events_past_retention_in_batches():
    now = timezone.now()
    old = [RawEventFactory(received_at=now - timedelta(days=15), processed_at=now) for _ in range(5)]
    stuck = RawEventFactory(received_at=now - timedelta(days=20), processed_at=None)
    recent = RawEventFactory(received_at=now - timedelta(days=13), processed_at=now)

    deleted = events_purge_old(retention_days=14, batch_size=2)

    assert deleted == len(old)
    assert set(RawEvent.objects.values_list("id", flat=True)) == {stuck.id, recent.id}
    assert_pending_is_unprocessed()  # the unprocessed event is kept, and still pending


def test_purge_keeps_detections_of_purged_events():
    receive(user_id="1", value="CEO")
    events_drain()
    RawEvent.objects.update(received_at=timezone.now() - timedelta(days=30))

    events_purge_old()

    assert not RawEvent.objects.exists()
    assert Detection.objects.get().event_id is None
