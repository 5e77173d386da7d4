"""Building the weekly digest: once, in chunks, every pending detection, each in exactly one digest."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from detections.models import Detection
from digests import services
from digests.models import Digest, DigestDelivery
from tests.factories import DetectionFactory

NEW_YORK = ZoneInfo("America/New_York")
FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=NEW_YORK)


def detections(count, *, days_ago=1):
    return [DetectionFactory(detected_at=FRIDAY_5PM - timedelta(days=days_ago, minutes=i)) for i in range(count)]


@pytest.mark.django_db
def test_the_weeks_digest_has_chunks_of_ten_on_both_channels():
    detections(25)

    digest = services.digest_build_weekly(now=FRIDAY_5PM)

    assert (digest.week_ending.isoformat(), digest.detection_count, digest.chunk_count) == ("2026-11-20", 25, 3)
    sizes = [Detection.objects.filter(digest=digest, digest_chunk=n).count() for n in (1, 2, 3)]
    assert sizes == [10, 10, 5]
    assert sorted(DigestDelivery.objects.values_list("chunk", "channel")) == [
        (n, channel) for n in (1, 2, 3) for channel in ("email", "teams")
    ]
    assert set(DigestDelivery.objects.values_list("status", "chunk_count")) == {("pending", 3)}


@pytest.mark.django_db
def test_chunks_follow_detection_order():
    made = detections(12)

    services.digest_build_weekly(now=FRIDAY_5PM)

    oldest_first = sorted(made, key=lambda d: d.detected_at)
    assert {d.pk for d in oldest_first[:10]} == set(
        Detection.objects.filter(digest_chunk=1).values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_building_twice_for_the_same_week_changes_nothing():
    detections(5)
    first = services.digest_build_weekly(now=FRIDAY_5PM)
    DetectionFactory(detected_at=FRIDAY_5PM + timedelta(minutes=5))

    again = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(minutes=10))

    assert again.pk == first.pk
    assert DigestDelivery.objects.count() == 2
    assert Detection.objects.filter(digest__isnull=True).count() == 1  # waits for next week


@pytest.mark.django_db
def test_a_missed_week_goes_out_the_following_week():
    detections(3, days_ago=12)  # the week before last: that digest never ran
    detections(2, days_ago=2)

    digest = services.digest_build_weekly(now=FRIDAY_5PM)

    assert digest.detection_count == 5
    assert not Detection.objects.filter(digest__isnull=True).exists()


@pytest.mark.django_db
def test_the_next_week_takes_only_what_is_left():
    detections(4)
    services.digest_build_weekly(now=FRIDAY_5PM)
    later = [DetectionFactory(detected_at=FRIDAY_5PM + timedelta(days=3)) for _ in range(2)]

    next_week = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(days=7))

    assert next_week.week_ending.isoformat() == "2026-11-27"
    assert set(Detection.objects.filter(digest=next_week).values_list("pk", flat=True)) == {d.pk for d in later}


@pytest.mark.django_db
def test_an_empty_week_builds_a_digest_with_nothing_to_send():
    digest = services.digest_build_weekly(now=FRIDAY_5PM)

    assert (digest.detection_count, digest.chunk_count) == (0, 0)
    assert not DigestDelivery.objects.exists()


@pytest.mark.django_db
def test_week_ending_is_the_friday_in_new_york():
    saturday_1am_utc = datetime(2026, 11, 21, 1, 0, tzinfo=ZoneInfo("UTC"))  # still Friday evening in New York
    wednesday = datetime(2026, 11, 18, 9, 0, tzinfo=NEW_YORK)
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=NEW_YORK)

    assert services.week_ending_for(saturday_1am_utc).isoformat() == "2026-11-20"
    assert services.week_ending_for(wednesday).isoformat() == "2026-11-20"
    assert services.week_ending_for(saturday).isoformat() == "2026-11-27"


@pytest.mark.django_db(transaction=True)
def test_concurrent_builds_make_one_digest_with_each_detection_once():
    detections(30)
    errors = []
    barrier = threading.Barrier(4)

    def build():
        try:
            barrier.wait()
            services.digest_build_weekly(now=FRIDAY_5PM)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Digest.objects.count() == 1
    assert DigestDelivery.objects.count() == 6
    assert not Detection.objects.filter(digest__isnull=True).exists()
