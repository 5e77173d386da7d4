"""Building digests: Friday's once, extra ones beside it, one row per member, each detection once."""

from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from detections.models import Detection, SeniorMember
from detections.services.processing import events_drain
from digests import selectors, services
from digests.models import Digest, DigestDelivery, Receipt
from tests.concurrency import run_together
from tests.detections.services.helpers import receive
from tests.factories import DetectionFactory, SeniorDetectionFactory, SeniorMemberFactory

NEW_YORK = ZoneInfo("America/New_York")
FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=NEW_YORK)
SUNDAY = datetime(2026, 11, 22, 21, 30, tzinfo=NEW_YORK)


def detections(count, *, days_ago=1, before=FRIDAY_5PM):
    return [SeniorDetectionFactory(detected_at=before - timedelta(days=days_ago, minutes=i)) for i in range(count)]


def carried(digest):
    return set(Receipt.objects.filter(digest=digest).values_list("detection_id", flat=True))


def waiting(now):
    return selectors.detections_waiting(now=now)


@pytest.mark.django_db
def test_the_weeks_digest_has_chunks_of_ten_on_both_channels():
    detections(25)

    digest = services.digest_build_weekly(now=FRIDAY_5PM).digest

    assert (digest.kind, digest.week_ending.isoformat()) == ("weekly", "2026-11-20")
    assert (digest.detection_count, digest.member_count, digest.chunk_count) == (25, 25, 3)
    sizes = [Receipt.objects.filter(digest=digest, chunk=n).count() for n in (1, 2, 3)]
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
        Receipt.objects.filter(chunk=1).values_list("detection_id", flat=True)
    )


@pytest.mark.django_db
def test_building_fridays_digest_again_changes_nothing_and_later_detections_wait():
    detections(5)
    first = services.digest_build_weekly(now=FRIDAY_5PM)
    late = SeniorDetectionFactory(detected_at=FRIDAY_5PM + timedelta(minutes=5))

    again = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(hours=10))  # a retry after midnight

    assert (again.digest.pk, again.built_now) == (first.digest.pk, False)
    assert waiting(FRIDAY_5PM + timedelta(hours=10)) == [late.pk] and len(again.detection_ids) == 5
    assert DigestDelivery.objects.count() == 2
    summary = services.build_summary(again)
    assert summary.startswith("Weekly digest for Nov 20, 2026 · Everyone was already built on Nov 20, 2026 ")


@pytest.mark.django_db
def test_an_extra_digest_on_sunday_does_not_use_up_friday():
    """The issue's case: "send now" on Sunday, a COO detected two minutes later goes on Friday."""
    sunday_five = detections(5, days_ago=0, before=SUNDAY)
    extra = services.digest_build_extra(now=SUNDAY)
    coo = SeniorDetectionFactory(title="COO", level="csuite", detected_at=SUNDAY + timedelta(minutes=2))

    later = services.nothing_built(now=SUNDAY + timedelta(minutes=3))
    waiting_then = waiting(SUNDAY + timedelta(minutes=3))
    friday = services.digest_build_weekly(now=SUNDAY + timedelta(days=5, minutes=-270))  # Friday 17:00

    assert (extra.digest.kind, extra.detection_ids) == ("extra", [d.pk for d in reversed(sunday_five)])
    assert extra.digest.week_ending.isoformat() == "2026-11-27"
    assert waiting_then == [coo.pk]
    assert later.next_weekly_at == datetime(2026, 11, 27, 17, 0, tzinfo=NEW_YORK)
    assert (friday.digest.kind, friday.digest.week_ending.isoformat()) == ("weekly", "2026-11-27")
    assert friday.built_now and friday.detection_ids == [coo.pk]
    assert Digest.objects.filter(kind="weekly").count() == 1 and Digest.objects.filter(kind="extra").count() == 1


@pytest.mark.django_db
def test_fridays_digest_takes_what_came_after_an_extra_one():
    detections(3, days_ago=2)
    services.digest_build_extra(now=FRIDAY_5PM - timedelta(days=1))
    coo = SeniorDetectionFactory(title="COO", level="csuite", detected_at=FRIDAY_5PM - timedelta(hours=3))

    friday = services.digest_build_weekly(now=FRIDAY_5PM)

    assert friday.built_now and friday.detection_ids == [coo.pk] and waiting(FRIDAY_5PM) == []
    summary = services.build_summary(friday, waiting=0)
    assert "1 detection (1 member) in 1 chunk, being sent. 0 detections waiting" in summary


@pytest.mark.django_db
@pytest.mark.parametrize("build", [services.digest_build_weekly, services.digest_build_extra])
def test_an_empty_build_records_nothing(build):
    result = build(now=FRIDAY_5PM)

    assert result.digest is None and result.detection_ids == []
    assert not Digest.objects.exists() and not DigestDelivery.objects.exists()
    assert services.build_summary(result).startswith("Nothing to send: no digest was recorded.")


@pytest.mark.django_db
def test_an_empty_friday_leaves_the_friday_free_for_what_comes_later_that_day():
    services.digest_build_weekly(now=FRIDAY_5PM)
    late = SeniorDetectionFactory(detected_at=FRIDAY_5PM + timedelta(minutes=1))

    retried = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(minutes=2))

    assert retried.built_now and retried.detection_ids == [late.pk]


@pytest.mark.django_db
def test_a_missed_week_goes_out_with_the_next_and_the_dates_say_so():
    detections(3, days_ago=12)  # the week before last: that digest never ran
    detections(2, days_ago=2)

    digest = services.digest_build_weekly(now=FRIDAY_5PM).digest

    assert digest.detection_count == 5
    assert waiting(FRIDAY_5PM) == []
    subject = DigestDelivery.objects.get(channel="email").content["subject"]
    assert subject == "Senior executives detected: Nov 8 – Nov 20, 2026"


@pytest.mark.django_db
def test_the_next_week_takes_only_what_is_left():
    detections(4)
    services.digest_build_weekly(now=FRIDAY_5PM)
    later = [SeniorDetectionFactory(detected_at=FRIDAY_5PM + timedelta(days=3)) for _ in range(2)]

    next_week = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(days=7)).digest

    assert next_week.week_ending.isoformat() == "2026-11-27"
    assert carried(next_week) == {d.pk for d in later}


@pytest.mark.django_db
def test_a_promotion_in_the_same_week_is_one_row_vp_to_c_suite():
    first = SeniorDetectionFactory(
        user_id="7", username="Ana", title="VP of Sales", level="vp", detected_at=FRIDAY_5PM - timedelta(days=3)
    )
    promotion = SeniorDetectionFactory(
        user_id="7",
        username="Ana",
        title="Chief Executive Officer",
        level="csuite",
        kind="promotion",
        detected_at=FRIDAY_5PM - timedelta(days=1),
    )

    digest = services.digest_build_weekly(now=FRIDAY_5PM).digest

    text = DigestDelivery.objects.get(channel="email").content["text"]
    assert (digest.detection_count, digest.member_count) == (2, 1)
    assert carried(digest) == {first.pk, promotion.pk}
    assert text.count("Ana") == 1 and "VP of Sales" not in text
    assert "- Ana: Chief Executive Officer (VP → C-suite)" in text
    assert "Detected: Nov 17, 2026; promoted Nov 19, 2026" in text


@pytest.mark.django_db
def test_a_promotion_of_someone_sent_as_vp_before_says_promoted():
    SeniorDetectionFactory(user_id="7", level="vp", detected_at=FRIDAY_5PM - timedelta(days=10))
    services.digest_build_weekly(now=FRIDAY_5PM - timedelta(days=7))
    SeniorDetectionFactory(
        user_id="7", username="Ana", title="CFO", level="csuite", kind="promotion", detected_at=FRIDAY_5PM
    )

    services.digest_build_weekly(now=FRIDAY_5PM)

    text = DigestDelivery.objects.get(channel="email", digest__week_ending="2026-11-20").content["text"]
    assert "- Ana: CFO (VP → C-suite)" in text and "Detected: Promoted Nov 20, 2026" in text


@pytest.mark.django_db
def test_a_member_no_longer_senior_is_left_out_and_a_re_detection_goes_next_time():
    gone = SeniorDetectionFactory(user_id="8", username="Gone", detected_at=FRIDAY_5PM - timedelta(days=2))
    SeniorDetectionFactory(username="Stays", detected_at=FRIDAY_5PM - timedelta(days=2))
    SeniorMember.objects.filter(user_id="8").delete()  # cleared their title

    build = services.digest_build_weekly(now=FRIDAY_5PM)
    back = SeniorDetectionFactory(user_id="8", username="Gone", detected_at=FRIDAY_5PM + timedelta(days=1))
    next_week = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(days=7))

    assert build.left_out == {gone.pk: "not_senior"} and build.digest.left_out_count == 1
    assert "Gone" not in DigestDelivery.objects.filter(digest=build.digest).first().content["text"]
    assert Receipt.objects.get(detection=gone.pk).left_out == "not_senior"
    assert next_week.detection_ids == [back.pk]


@pytest.mark.django_db
def test_a_promotion_that_no_longer_holds_is_left_out():
    SeniorDetectionFactory(user_id="9", level="vp", detected_at=FRIDAY_5PM - timedelta(days=10))
    services.digest_build_weekly(now=FRIDAY_5PM - timedelta(days=7))
    promotion = SeniorDetectionFactory(user_id="9", level="csuite", kind="promotion", detected_at=FRIDAY_5PM)
    SeniorMember.objects.filter(user_id="9").update(level="vp", title="VP of Finance")  # back to VP

    build = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(minutes=1))

    assert build.digest is None and build.left_out == {promotion.pk: "not_csuite"}


@pytest.mark.django_db
def test_a_row_shows_the_member_as_they_are_when_the_digest_is_built():
    SeniorDetectionFactory(user_id="5", username="Raj", title="VP Sales", detected_at=FRIDAY_5PM - timedelta(days=1))
    SeniorMember.objects.filter(user_id="5").update(title="Senior Vice President, Sales", company="Initech")

    services.digest_build_weekly(now=FRIDAY_5PM)

    text = DigestDelivery.objects.get(channel="email").content["text"]
    assert "- Raj: Senior Vice President, Sales (VP)" in text and "Company: Initech" in text


@pytest.mark.django_db
def test_a_detection_without_a_member_row_is_not_sent():
    """Detections are only made for members processing keeps: one without is stale data."""
    orphan = DetectionFactory(detected_at=FRIDAY_5PM - timedelta(hours=1))

    assert services.digest_build_weekly(now=FRIDAY_5PM).left_out == {orphan.pk: "not_senior"}


@pytest.mark.django_db
def test_what_a_build_takes_stops_following_its_member_and_what_waits_still_follows():
    """Carried or left out, a detection an audience took keeps what it showed; the build says so
    to detections (Detection.frozen_at), which owns the follow."""
    now = timezone.now()  # the follow reaches back eight days from the database's clock
    sent = SeniorDetectionFactory(user_id="3", country="", detected_at=now - timedelta(hours=1))
    left_out = DetectionFactory(user_id="4", country="", detected_at=now - timedelta(hours=1))

    build = services.digest_build_weekly(now=now)
    later = DetectionFactory(user_id="3", country="", detected_at=now + timedelta(minutes=1))
    SeniorMemberFactory(user_id="4", country="")  # senior again: what it takes would reach its detections
    receive(user_id="3", field="Country", value="Chile")
    receive(user_id="4", field="Country", value="Peru")
    events_drain()

    assert (build.detection_ids, build.left_out) == ([sent.pk], {left_out.pk: "not_senior"})
    assert set(Detection.objects.filter(frozen_at__isnull=False).values_list("pk", flat=True)) == {sent.pk, left_out.pk}
    assert {d.pk: d.country for d in Detection.objects.all()} == {sent.pk: "", left_out.pk: "", later.pk: "Chile"}


@pytest.mark.django_db
def test_friday_is_the_run_day_and_a_week_ends_on_friday_in_new_york():
    saturday_1am_utc = datetime(2026, 11, 21, 1, 0, tzinfo=ZoneInfo("UTC"))  # still Friday evening in New York
    wednesday = datetime(2026, 11, 18, 9, 0, tzinfo=NEW_YORK)
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=NEW_YORK)

    assert services.week_ending_for(saturday_1am_utc).isoformat() == "2026-11-20"
    assert services.week_ending_for(wednesday).isoformat() == "2026-11-20"
    assert services.week_ending_for(saturday).isoformat() == "2026-11-27"
    assert services.friday_of_run(saturday).isoformat() == "2026-11-20"
    assert services.friday_of_run(FRIDAY_5PM).isoformat() == "2026-11-20"
    assert services.friday_of_run(wednesday).isoformat() == "2026-11-13"
    # Friday morning, before the 17:00 build: the Friday before's (it cannot use up the evening's).
    assert services.friday_of_run(FRIDAY_5PM - timedelta(hours=7)).isoformat() == "2026-11-13"
    assert services.friday_of_run(FRIDAY_5PM + timedelta(hours=8)).isoformat() == "2026-11-20"


def _concurrently(*builds):
    run_together(*[partial(build, now=FRIDAY_5PM) for build in builds])


@pytest.mark.django_db(transaction=True)
def test_concurrent_weekly_builds_make_one_digest_with_each_detection_once():
    detections(30)

    _concurrently(*[services.digest_build_weekly] * 4)

    assert Digest.objects.count() == 1
    assert DigestDelivery.objects.count() == 6
    assert waiting(FRIDAY_5PM) == []
    assert Receipt.objects.count() == 30


@pytest.mark.django_db(transaction=True)
def test_extra_and_weekly_builds_at_once_carry_each_detection_once():
    detections(30)

    _concurrently(services.digest_build_weekly, services.digest_build_extra, services.digest_build_extra)

    assert Digest.objects.count() == 1  # the first to lock took all; the others had nothing to send
    assert sum(Digest.objects.values_list("detection_count", flat=True)) == 30
    assert waiting(FRIDAY_5PM) == []
    assert Receipt.objects.count() == 30


@pytest.mark.django_db
def test_a_member_removed_and_detected_again_is_dated_by_the_new_detection():
    SeniorDetectionFactory(user_id="4", level="vp", detected_at=FRIDAY_5PM - timedelta(days=5))
    SeniorDetectionFactory(user_id="4", level="csuite", kind="promotion", detected_at=FRIDAY_5PM - timedelta(days=4))
    SeniorDetectionFactory(user_id="4", username="Kai", level="vp", detected_at=FRIDAY_5PM - timedelta(days=2))

    services.digest_build_weekly(now=FRIDAY_5PM)

    text = DigestDelivery.objects.get(channel="email").content["text"]
    assert "- Kai: VP of Sales (VP)" in text and "Detected: Nov 18, 2026" in text and "→" not in text
