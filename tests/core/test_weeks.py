"""The week closes on Friday at 17:00 New York: the schedule fires then, and the build's Friday turns then."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.schedules import SCHEDULES, crontab_next_run
from core.weeks import friday_of_run, week_closing_crontab, week_ending_for
from digests.selectors import WEEKLY_TASK

NEW_YORK = ZoneInfo("America/New_York")


def test_the_weekly_schedule_is_the_weeks_close():
    assert next(s for s in SCHEDULES if s.task == WEEKLY_TASK).crontab == week_closing_crontab()


@pytest.mark.parametrize(
    "after",
    [
        datetime(2026, 11, 18, 9, 0, tzinfo=NEW_YORK),  # a Wednesday
        datetime(2026, 3, 3, 12, 0, tzinfo=NEW_YORK),  # the week the clocks go forward
        datetime(2026, 10, 29, 12, 0, tzinfo=NEW_YORK),  # the week they go back
        datetime(2026, 12, 30, 12, 0, tzinfo=NEW_YORK),  # New Year
    ],
)
def test_the_build_turns_to_a_new_friday_when_the_schedule_fires(after, time_machine):
    time_machine.move_to(after)  # the moments are passed in; the clock is frozen with them all the same
    fires = crontab_next_run(week_closing_crontab(), NEW_YORK, after=after)

    assert (fires.weekday(), fires.hour, fires.minute) == (4, 17, 0)
    assert friday_of_run(fires) == fires.date() == week_ending_for(fires)
    assert friday_of_run(fires - timedelta(minutes=1)) == fires.date() - timedelta(days=7)
