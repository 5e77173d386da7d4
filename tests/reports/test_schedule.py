"""The month-end schedule as beat evaluates it: days 28-31 at 23:55 New York time, and the
task's last-day guard, together fire exactly once a month, on its last day."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from reports.months import is_last_day_of_month
from tests.beat import fire_times

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")


def test_month_end_fires_on_days_28_to_31_and_acts_on_the_last_day_only():
    schedule = PeriodicTask.objects.get(task="reports.tasks.report_generate_month_end").crontab.schedule

    # January to April 2028: 31, 29 (leap), 31 and 30 days; March has the DST change.
    fired = fire_times(
        schedule, datetime(2028, 1, 1, 5, tzinfo=UTC), datetime(2028, 5, 1, 5, tzinfo=UTC), step=timedelta(minutes=5)
    )

    assert all((f.hour, f.minute) == (23, 55) for f in fired)
    assert [f.day for f in fired] == [28, 29, 30, 31, 28, 29, 28, 29, 30, 31, 28, 29, 30]
    assert [f.date().isoformat() for f in fired if is_last_day_of_month(f)] == [
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
        "2028-04-30",
    ]


def test_catch_up_runs_daily_at_six_new_york_time():
    crontab = PeriodicTask.objects.get(task="reports.tasks.reports_catch_up").crontab

    assert (crontab.minute, crontab.hour, crontab.day_of_month, str(crontab.timezone)) == (
        "0",
        "6",
        "*",
        "America/New_York",
    )
