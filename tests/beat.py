"""Evaluate a synced beat schedule the way beat does: `is_due(last_run_at)` with the clock set."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def fire_times(schedule, start: datetime, end: datetime, *, step: timedelta = timedelta(minutes=1)) -> list[datetime]:
    """Every moment beat would run the task between start and end, checking every `step`."""
    fired, last_run, moment = [], start, start
    while moment < end:
        schedule.nowfun = lambda moment=moment: moment.astimezone(NEW_YORK)
        due, _next = schedule.is_due(last_run)
        if due:
            fired.append(moment.astimezone(NEW_YORK))
            last_run = moment
        moment += step
    return fired
