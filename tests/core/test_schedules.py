"""The periodic tasks declared in code and their copy in django-celery-beat's tables."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import PeriodicTask

from core.schedules import SCHEDULES, periodic_tasks_sync

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
