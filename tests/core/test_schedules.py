"""The periodic tasks declared in code and their copy in django-celery-beat's tables."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from core.schedules import SCHEDULES, crontab_next_run, periodic_tasks_sync
from tests.beat import fire_times

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


def next_run(schedule, now: datetime) -> datetime:
    """When beat would next fire `schedule` (the synced crontab), evaluated as if it were `now`."""
    schedule.nowfun = lambda: now
    return (now + schedule.remaining_estimate(now)).astimezone(NEW_YORK)


def test_migrate_synced_every_declared_schedule():
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= {s.name for s in SCHEDULES}


def test_housekeeping_runs_daily_at_two_new_york_time():
    task = PeriodicTask.objects.get(task="detections.tasks.events_purge_old")
    crontab = task.crontab

    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "0",
        "2",
        "*",
        "America/New_York",
    )
    now = datetime(2026, 6, 10, 12, 0, tzinfo=NEW_YORK)
    assert next_run(crontab.schedule, now) == datetime(2026, 6, 11, 2, 0, tzinfo=NEW_YORK)


def test_resync_keeps_an_operator_pause_and_restores_the_timing():
    task = PeriodicTask.objects.get(task="detections.tasks.events_purge_old")
    task.enabled = False
    task.save()
    task.crontab.hour = "5"
    task.crontab.save()

    periodic_tasks_sync()

    task.refresh_from_db()
    assert task.enabled is False
    assert task.crontab.hour == "2"


def test_outbox_sweep_runs_every_minute():
    task = PeriodicTask.objects.get(task="detections.tasks.events_sweep_unprocessed")

    assert (task.interval.every, task.interval.period) == (60, "seconds")
    assert task.expire_seconds == 50


def test_a_schedule_removed_from_the_code_leaves_the_beat_tables_and_a_pause_survives():
    from django_celery_beat.models import IntervalSchedule

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="digest: a schedule since removed", task="digests.tasks.gone", interval=every_minute
    )
    PeriodicTask.objects.create(name="celery: its own", task="celery.backend_cleanup", interval=every_minute)
    PeriodicTask.objects.filter(task="detections.tasks.events_purge_old").update(enabled=False)
    kept = SCHEDULES[:-1]  # the code no longer declares the last one

    periodic_tasks_sync(kept)

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert names == {s.name for s in kept} | {"celery: its own"}
    assert PeriodicTask.objects.get(task="detections.tasks.events_purge_old").enabled is False


# --- when each schedule next runs (the health panel) ------------------------------------------------

DST_EDGES = [  # around the March and November changes of 2026, and an ordinary day
    datetime(2026, 3, 6, 16, 59, tzinfo=NEW_YORK),
    datetime(2026, 3, 7, 23, 0, tzinfo=NEW_YORK),
    datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK),
    datetime(2026, 10, 30, 17, 0, 1, tzinfo=NEW_YORK),
    datetime(2026, 10, 31, 23, 56, tzinfo=NEW_YORK),
    datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK),
    datetime(2026, 11, 29, 23, 0, tzinfo=NEW_YORK),
]


WINDOWS = {
    "0 17 * * 5": timedelta(days=8),
    "0 6 * * *": timedelta(days=2),
    "0 2 * * *": timedelta(days=2),
    "30 4 * * *": timedelta(days=2),
}


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s.crontab and not s.acts_on_last_day_of_month])
@pytest.mark.parametrize("now", DST_EDGES, ids=lambda now: now.isoformat())
def test_the_next_run_shown_is_when_beat_fires_it(schedule, now):
    """Beat's own `is_due`, minute by minute, across the daylight-saving changes: the first moment
    it fires is the next run the health panel shows (not a minute or an hour off)."""
    crontab = PeriodicTask.objects.get(name=schedule.name).crontab
    window = WINDOWS[" ".join((schedule.crontab[0], schedule.crontab[1], *schedule.crontab[2:]))]

    shown = crontab_next_run(schedule.crontab, NEW_YORK, after=now)
    fired = fire_times(crontab.schedule, now, now + window)[0]

    assert shown == fired.replace(second=0, microsecond=0)
    assert (shown.hour, shown.minute, shown.second) == (int(schedule.crontab[1]), int(schedule.crontab[0]), 0)


@pytest.mark.parametrize(
    "now,expected",
    [
        (datetime(2026, 11, 29, 23, 0, tzinfo=NEW_YORK), datetime(2026, 11, 30, 23, 55, tzinfo=NEW_YORK)),
        (datetime(2026, 11, 30, 23, 56, tzinfo=NEW_YORK), datetime(2026, 12, 31, 23, 55, tzinfo=NEW_YORK)),
        (datetime(2028, 2, 1, 0, 0, tzinfo=NEW_YORK), datetime(2028, 2, 29, 23, 55, tzinfo=NEW_YORK)),
    ],
)
def test_the_month_end_report_is_shown_on_the_months_last_day(now, expected):
    month_end = next(s for s in SCHEDULES if s.acts_on_last_day_of_month)

    assert crontab_next_run(month_end.crontab, NEW_YORK, after=now, last_day_of_month=True) == expected
