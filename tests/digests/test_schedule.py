"""The weekly digest fires at 17:00 New York time on both sides of the daylight-saving changes.

Evaluated on the crontab synced into django-celery-beat's tables, the way beat evaluates it:
`is_due(last_run_at)` with the clock set to each moment.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from tests.beat import fire_times

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


@pytest.fixture
def weekly_digest():
    return PeriodicTask.objects.get(task="digests.tasks.digest_build_weekly").crontab.schedule


@pytest.mark.parametrize(
    "start,end,expected_utc",
    [
        # Spring forward: Sunday 8 March 2026, 02:00 EST -> 03:00 EDT.
        (
            datetime(2026, 3, 5, 12, tzinfo=UTC),
            datetime(2026, 3, 14, 12, tzinfo=UTC),
            ["2026-03-06 22:00", "2026-03-13 21:00"],
        ),
        # Fall back: Sunday 1 November 2026, 02:00 EDT -> 01:00 EST.
        (
            datetime(2026, 10, 29, 12, tzinfo=UTC),
            datetime(2026, 11, 7, 12, tzinfo=UTC),
            ["2026-10-30 21:00", "2026-11-06 22:00"],
        ),
    ],
    ids=["march", "november"],
)
def test_fires_once_each_friday_at_17_local_across_dst(weekly_digest, start, end, expected_utc):
    fired = fire_times(weekly_digest, start, end)

    assert [(f.strftime("%a"), f.hour, f.minute) for f in fired] == [("Fri", 17, 0), ("Fri", 17, 0)]
    assert [f.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for f in fired] == expected_utc


def test_the_synced_crontab_is_in_new_york_time(weekly_digest):
    task = PeriodicTask.objects.get(task="digests.tasks.digest_build_weekly")

    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "17", "5")
    assert str(task.crontab.timezone) == "America/New_York"
