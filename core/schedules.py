"""Every periodic task, declared once, here.

`periodic_tasks_sync()` writes these into django-celery-beat's tables (after every
migrate, and by `manage.py sync_schedules`), where operators see them in the admin and can
pause them: an operator's `enabled` choice survives a sync; the timing and task do not,
because code is their source of truth. An entry that runs one of the project's tasks and is no
longer declared here is deleted by the sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import transaction

from .weeks import week_closing_crontab


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    description: str
    # Exactly one of `crontab` (five cron fields, in settings.TIME_ZONE) or `every_seconds`.
    crontab: tuple[str, str, str, str, str] | None = None  # minute, hour, day_of_month, month, day_of_week
    every_seconds: int | None = None
    expires_seconds: int | None = None
    # The task does its work only on a month's last day (cron cannot say so): the next run an
    # operator is shown skips the other days the crontab fires on.
    acts_on_last_day_of_month: bool = False


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        name="digest: build the weekly digest",
        task="digests.tasks.digest_build_weekly",
        # Fridays at 17:00 America/New_York, on both sides of the daylight-saving changes: when the
        # week closes (core.weeks, which the build reads too).
        crontab=week_closing_crontab(),
        description="Build this week's digest from every detection not yet in one, then send it.",
        expires_seconds=6 * 3600,
    ),
    Schedule(
        name="digest: send due deliveries",
        task="digests.tasks.deliveries_send_due",
        # Every minute: deliveries whose retry time has come, and any left by a crashed worker.
        every_seconds=60,
        description="Send digest deliveries that are due (first attempts and scheduled retries).",
        expires_seconds=50,
    ),
    Schedule(
        name="digest: real-time alerts",
        task="digests.tasks.alerts_build_due",
        # Every minute: real-time audiences hear of new detections within a few minutes.
        every_seconds=60,
        description="Build the real-time audiences' alerts (coalesced, capped per hour) and send them.",
        expires_seconds=50,
    ),
    Schedule(
        name="report: month-end report",
        task="reports.tasks.report_generate_month_end",
        # Days 28-31 at 23:55 America/New_York; the task acts only when tomorrow is the 1st
        # (cron cannot say "last day of the month").
        crontab=("55", "23", "28-31", "*", "*"),
        description="Generate the month's report on its last day (and any month missed before).",
        expires_seconds=3 * 3600,
        acts_on_last_day_of_month=True,
    ),
    Schedule(
        name="report: catch up missed months",
        task="reports.tasks.reports_catch_up",
        # Every day at 06:00 America/New_York: months whose report is missing, failed or
        # generated before the month was over (the 23:55 run misses the last five minutes).
        crontab=("0", "6", "*", "*", "*"),
        description="Generate ended months whose report is missing, failed or incomplete.",
        expires_seconds=6 * 3600,
    ),
    Schedule(
        name="housekeeping: purge old raw events",
        task="detections.tasks.events_purge_old",
        # Every day at 02:00 America/New_York.
        crontab=("0", "2", "*", "*", "*"),
        description="Delete processed raw events older than EVENTS_RETENTION_DAYS (14 by default).",
        expires_seconds=3600,
    ),
    Schedule(
        name="community: write back roles and badges",
        task="detections.tasks.community_grants_write_due",
        # Every minute: changes whose retry time has come, and any a lost wake-up left behind.
        every_seconds=60,
        description="Give senior members the community role/badge, take them from others (when configured).",
        expires_seconds=50,
    ),
    Schedule(
        name="community: reconcile roles and badges",
        task="detections.tasks.community_reconcile",
        # Every day at 04:30 America/New_York (clear of the daylight-saving changes at 01:00-03:00).
        crontab=("30", "4", "*", "*", "*"),
        description="Compare the community's role/badge holders with the senior members and fix the drift.",
        expires_seconds=3600,
    ),
    Schedule(
        name="crm: hand off detections to Salesforce",
        task="crm.tasks.crm_handoffs_run",
        # Every minute: new detections, and hand-offs whose retry time has come (when CRM_HANDOFF_ENABLED).
        every_seconds=60,
        description="Create a Salesforce Task for the account owner of each new senior executive (when enabled).",
        expires_seconds=50,
    ),
    Schedule(
        name="outbox: sweep unprocessed events",
        task="detections.tasks.events_sweep_unprocessed",
        # Every minute: events stored while the broker or the workers were down get enqueued.
        every_seconds=60,
        description="Re-enqueue members whose events are unprocessed past EVENTS_SWEEP_AFTER_SECONDS.",
        expires_seconds=50,
    ),
)


def crontab_next_run(
    fields: tuple[str, str, str, str, str], zone: ZoneInfo, *, after: datetime, last_day_of_month: bool = False
) -> datetime | None:
    """When a crontab (minute, hour, day of month, month, day of week, in `zone`) next fires after
    `after`, as beat runs it: Celery parses the fields, and a day must match all of them. Wall
    times are read in `zone` on the day itself, so a run stays at 17:00 New York across the
    daylight-saving changes; a time the spring change skips runs an hour later, as the clock reads."""
    from celery.schedules import crontab

    minute, hour, day_of_month, month_of_year, day_of_week = fields
    cron = crontab(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )
    local, times = after.astimezone(zone), [(h, m) for h in sorted(cron.hour) for m in sorted(cron.minute)]
    day = local.date()
    for _ in range(4 * 366):  # every field combination recurs within four years (29 February)
        if (
            day.month in cron.month_of_year
            and day.day in cron.day_of_month
            and day.isoweekday() % 7 in cron.day_of_week
            and (not last_day_of_month or (day + timedelta(days=1)).day == 1)
        ):
            for h, m in times:
                candidate = datetime.combine(day, time(h, m), tzinfo=zone)
                if candidate > local:
                    return candidate
        day += timedelta(days=1)
    return None


def schedules_next_runs(*, now: datetime) -> list[dict]:
    """The periodic tasks as beat sees them: enabled or paused, last run, and when each next does
    its work (core.schedules.crontab_next_run; an interval: its last run plus the interval)."""
    from django_celery_beat.models import PeriodicTask

    declared = {schedule.name: schedule for schedule in SCHEDULES}
    rows = []
    for task in PeriodicTask.objects.select_related("crontab", "interval").order_by("name"):
        next_run = None
        if task.enabled and task.crontab is not None:
            cron = task.crontab
            fields = (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week)
            last_day = getattr(declared.get(task.name), "acts_on_last_day_of_month", False)
            next_run = crontab_next_run(fields, ZoneInfo(str(cron.timezone)), after=now, last_day_of_month=last_day)
        elif task.enabled and task.interval is not None:
            next_run = max(now, (task.last_run_at or now) + task.interval.schedule.run_every)
        row = {
            "name": task.name,
            "task": task.task,
            "enabled": task.enabled,
            "last_run_at": task.last_run_at,
            "next_run_at": next_run,
        }
        rows.append(row)
    return rows


def schedule_next_run(task: str, *, now: datetime) -> datetime | None:
    """When the declared `task` next does its work (None: paused, or not in beat's tables)."""
    return next((row["next_run_at"] for row in schedules_next_runs(now=now) if row["task"] == task), None)


def periodic_tasks_sync(schedules: tuple[Schedule, ...] = SCHEDULES) -> list[str]:
    """Create or update the beat entries for `schedules`, delete the project's undeclared ones;
    returns the declared names."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    with transaction.atomic():
        declared, ours = [schedule.name for schedule in schedules], _project_task_prefixes()
        for stale in PeriodicTask.objects.exclude(name__in=declared):
            if stale.task.startswith(ours):
                stale.delete()
        for schedule in schedules:
            fields = {
                "task": schedule.task,
                "description": schedule.description,
                "expire_seconds": schedule.expires_seconds,
                "kwargs": json.dumps({}),
                "crontab": None,
                "interval": None,
            }
            if schedule.crontab is not None:
                minute, hour, day_of_month, month_of_year, day_of_week = schedule.crontab
                fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    minute=minute,
                    hour=hour,
                    day_of_month=day_of_month,
                    month_of_year=month_of_year,
                    day_of_week=day_of_week,
                    timezone=settings.TIME_ZONE,
                )
            else:
                fields["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=schedule.every_seconds, period=IntervalSchedule.SECONDS
                )
            PeriodicTask.objects.update_or_create(name=schedule.name, defaults=fields)
    return declared


def _project_task_prefixes() -> tuple[str, ...]:
    """ "detections.", "digests.", …: the apps at the top of this repository (third-party entries,
    such as Celery's own, are left alone)."""
    root = Path(settings.BASE_DIR).resolve()
    return tuple(f"{config.name}." for config in apps.get_app_configs() if Path(config.path).resolve().parent == root)


def periodic_tasks_sync_after_migrate(sender, using="default", **kwargs) -> None:
    periodic_tasks_sync()
