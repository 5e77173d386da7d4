"""The service's week: it closes on Friday at 17:00, New York time (settings.TIME_ZONE).

The weekly digest's schedule (core.schedules) and its build (which Friday a run is for, in
digests) both read it from here, so they cannot drift apart: the build used to read the hour back
out of the schedule's crontab by position.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

FRIDAY = 4  # as date.weekday() counts
WEEK_CLOSES_ON = FRIDAY
WEEK_CLOSES_AT = time(17, 0)


def week_closing_crontab() -> tuple[str, str, str, str, str]:
    """The weekly build's crontab fields (minute, hour, day of month, month, day of week), in
    settings.TIME_ZONE. Cron counts the days of the week from Sunday (0)."""
    return (str(WEEK_CLOSES_AT.minute), str(WEEK_CLOSES_AT.hour), "*", "*", str((WEEK_CLOSES_ON + 1) % 7))


def week_ending_for(moment: datetime) -> date:
    """The Friday, in America/New_York, of the week `moment` falls in (Saturday starts a week)."""
    day = moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    return day + timedelta(days=(WEEK_CLOSES_ON - day.weekday()) % 7)


def friday_of_run(moment: datetime) -> date:
    """The Friday whose scheduled build a run at `moment` is: the latest Friday 17:00 New York at
    or before it. A build retried after midnight, or run by hand on Sunday, is that Friday's; one
    run by hand on Friday morning is the Friday before's, so it cannot use up the evening's."""
    closes = timedelta(hours=WEEK_CLOSES_AT.hour, minutes=WEEK_CLOSES_AT.minute)
    day = (moment.astimezone(ZoneInfo(settings.TIME_ZONE)) - closes).date()
    return day - timedelta(days=(day.weekday() - WEEK_CLOSES_ON) % 7)
