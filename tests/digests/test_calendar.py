"""The digest's calendar at its edges: the year-end week, a Friday on the first of a month, the
daylight-saving weeks and 29 February; and the alerts' hourly cap when New York repeats or skips
an hour. Each build runs with the clock frozen at the moment it stands for (one clock per test)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digests import services
from digests.models import Audience, Digest
from tests.factories import AudienceFactory, SeniorDetectionFactory

NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def ny(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)


# (moment, the Friday its week ends on, the Friday whose scheduled build a run then is)
WEEKS = {
    "new year: Thursday 31 Dec": (ny(2026, 12, 31, 12), "2027-01-01", "2026-12-25"),
    "new year: Friday 1 Jan before 17:00": (ny(2027, 1, 1, 16, 59), "2027-01-01", "2026-12-25"),
    "new year: Friday 1 Jan at 17:00": (ny(2027, 1, 1, 17), "2027-01-01", "2027-01-01"),
    "new year: Friday 1 Jan 23:30 (Saturday in UTC)": (ny(2027, 1, 1, 23, 30), "2027-01-01", "2027-01-01"),
    "new year: Saturday 2 Jan": (ny(2027, 1, 2, 9), "2027-01-08", "2027-01-01"),
    "Friday 1 October": (ny(2027, 10, 1, 17, 30), "2027-10-01", "2027-10-01"),
    "spring forward: Sunday 03:30 EDT": (ny(2027, 3, 14, 3, 30), "2027-03-19", "2027-03-12"),
    "spring forward: the Friday after": (ny(2027, 3, 19, 17), "2027-03-19", "2027-03-19"),
    "fall back: Sunday 01:30 EDT": (ny(2027, 11, 7, 1, 30), "2027-11-12", "2027-11-05"),
    "fall back: Sunday 01:30 EST": (ny(2027, 11, 7, 1, 30, fold=1), "2027-11-12", "2027-11-05"),
    "leap day: Tuesday 29 February": (ny(2028, 2, 29, 12), "2028-03-03", "2028-02-25"),
}


@pytest.mark.parametrize("moment,week_ending,friday", WEEKS.values(), ids=WEEKS.keys())
def test_each_moment_belongs_to_the_week_ending_on_its_new_york_friday(moment, week_ending, friday):
    assert services.week_ending_for(moment).isoformat() == week_ending
    assert services.week_ending_for(moment.astimezone(UTC)).isoformat() == week_ending
    assert services.friday_of_run(moment).isoformat() == friday


# (the Friday build, the previous Friday's build, the next build as beat will run it)
FRIDAYS = {
    "New Year's Day": (ny(2027, 1, 1, 17), ny(2026, 12, 25, 17), ny(2027, 1, 8, 17)),
    "the first of October": (ny(2027, 10, 1, 17), ny(2027, 9, 24, 17), ny(2027, 10, 8, 17)),
    "before spring forward": (ny(2027, 3, 12, 17), ny(2027, 3, 5, 17), ny(2027, 3, 19, 17)),
    "after spring forward": (ny(2027, 3, 19, 17), ny(2027, 3, 12, 17), ny(2027, 3, 26, 17)),
    "before fall back": (ny(2027, 11, 5, 17), ny(2027, 10, 29, 17), ny(2027, 11, 12, 17)),
    "after fall back": (ny(2027, 11, 12, 17), ny(2027, 11, 5, 17), ny(2027, 11, 19, 17)),
    "after the leap day": (ny(2028, 3, 3, 17), ny(2028, 2, 25, 17), ny(2028, 3, 10, 17)),
}


@pytest.mark.django_db
@pytest.mark.parametrize("friday,previous,following", FRIDAYS.values(), ids=FRIDAYS.keys())
def test_fridays_build_takes_its_week_and_names_the_next_friday(time_machine, friday, previous, following):
    """Built by the clock, as beat's run is: the week's detections, not the one after the build."""
    time_machine.move_to(previous, tick=False)
    services.digest_build_weekly()
    week = [
        SeniorDetectionFactory(detected_at=previous + timedelta(minutes=1)),
        SeniorDetectionFactory(detected_at=friday - timedelta(days=2)),  # across any clock change
        SeniorDetectionFactory(detected_at=friday - timedelta(minutes=1)),
    ]
    time_machine.move_to(friday, tick=False)

    build = services.digest_build_weekly()
    after = SeniorDetectionFactory(detected_at=friday + timedelta(minutes=1))
    time_machine.move_to(following, tick=False)
    next_build = services.digest_build_weekly()

    assert build.digest.week_ending == friday.date()
    assert build.detection_ids == [d.pk for d in week]
    assert build.next_weekly_at == following
    assert (next_build.digest.week_ending, next_build.detection_ids) == (following.date(), [after.pk])
    assert Digest.objects.filter(kind="weekly").count() == 2


def board(**fields):
    return AudienceFactory(
        name="Board alerts", levels=["csuite"], cadence=Audience.Cadence.REALTIME, alerts_per_hour=1, **fields
    )


def ceo(at):
    return SeniorDetectionFactory(title="CEO", level="csuite", detected_at=at)


def after(moment, **delta):
    """`delta` of real time after `moment`. Python adds to an aware datetime on the wall clock of
    its zone and forgets `fold` (which of a repeated hour's two readings it is): add in UTC."""
    return (moment.astimezone(UTC) + timedelta(**delta)).astimezone(NEW_YORK)


# (an alert's moment, a second detection within that hour's cap, when the next clock hour starts)
HOURS = {
    "fall back: 01:00 EDT then 01:00 EST": (
        ny(2027, 11, 7, 1, 5),
        ny(2027, 11, 7, 1, 30),
        ny(2027, 11, 7, 1, 0, fold=1),
    ),
    "spring forward: 01:00 EST then 03:00 EDT": (ny(2027, 3, 14, 1, 5), ny(2027, 3, 14, 1, 30), ny(2027, 3, 14, 3, 0)),
    "new year: 23:00 then 00:00": (ny(2026, 12, 31, 23, 5), ny(2026, 12, 31, 23, 30), ny(2027, 1, 1, 0, 0)),
}


@pytest.mark.django_db
@pytest.mark.parametrize("first,second,next_hour", HOURS.values(), ids=HOURS.keys())
def test_the_hourly_cap_holds_for_one_real_hour_across_clock_changes(time_machine, settings, first, second, next_hour):
    """A cap of one alert an hour: the second detection waits for the next clock hour in New York,
    which is a real hour later whether New York repeats 01:00 or skips 02:00."""
    settings.DIGEST_ALERT_COALESCE_SECONDS = 0
    board()

    def alerts_at(moment):
        time_machine.move_to(moment, tick=False)
        return services.alerts_build_due()

    ceo(first)
    sent = alerts_at(after(first, minutes=1))
    held = ceo(second)
    capped = alerts_at(after(second, minutes=1))
    released = alerts_at(after(next_hour, seconds=30))

    assert after(first, hours=1) > next_hour  # each case's next clock hour starts within a real hour
    assert [d.kind for d in sent.digests] == ["alert"]
    assert capped.digests == [] and capped.audiences[0].held == 1
    [summary] = released.digests
    assert (summary.kind, released.detection_ids) == ("summary", [held.pk])
