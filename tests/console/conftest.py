"""Data for the console's pages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from digests import services as digest_services
from digests.models import DigestDelivery
from reports import services as report_services
from reports.months import Month
from tests.factories import DetectionFactory, RawEventFactory, SeniorDetectionFactory


@pytest.fixture
def health_data(control_room, settings, tmp_path):
    """A figure for every row of the panel: members of both levels, detections in and out of the
    week, events pending and set aside, deliveries in each state an operator acts on, a report."""
    settings.MEDIA_ROOT = tmp_path
    now = timezone.now()
    SeniorDetectionFactory(detected_at=now - timedelta(days=1))
    SeniorDetectionFactory(detected_at=now - timedelta(days=20), title="VP of Marketing")
    SeniorDetectionFactory(level="csuite", title="Chief Executive Officer", detected_at=now - timedelta(days=40))
    RawEventFactory()
    RawEventFactory(processed_at=now, outcome="failed", error="boom")
    RawEventFactory(processed_at=now, outcome="created")
    digest_services.digest_build_weekly()
    DetectionFactory(detected_at=now - timedelta(hours=1))  # after the build: waiting for the next digest
    deliveries = list(DigestDelivery.objects.order_by("id"))
    assert len(deliveries) >= 2
    DigestDelivery.objects.filter(pk=deliveries[0].pk).update(status=DigestDelivery.Status.DEAD)
    DigestDelivery.objects.filter(pk=deliveries[1].pk).update(status=DigestDelivery.Status.RETRYING)
    report_services.report_generate_month(month=Month.of(now).previous())
