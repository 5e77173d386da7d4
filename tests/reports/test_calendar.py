"""The month-end report at the calendar's edges: 28, 29, 30 and 31-day months, the year's end, the
daylight-saving months, and weeks cut by a month that starts on a Friday or ends on 29 February.
The month-end run reads the clock as beat's run does, frozen at 23:55 New York on the day."""

from datetime import timedelta

import pytest

from detections.models import Detection
from reports import selectors, services
from reports.models import Report
from reports.months import Month
from tests.factories import DetectionFactory
from tests.fixtures.reports import ny

pytestmark = pytest.mark.django_db

# The month, and its last day at 23:55 New York (when beat runs the month-end task).
MONTH_ENDS = {
    "31 days, the year's first": (Month(2027, 1), ny(2027, 1, 31, 23, 55)),
    "28 days": (Month(2027, 2), ny(2027, 2, 28, 23, 55)),
    "29 days, leap year": (Month(2028, 2), ny(2028, 2, 29, 23, 55)),
    "spring forward": (Month(2027, 3), ny(2027, 3, 31, 23, 55)),
    "30 days": (Month(2027, 4), ny(2027, 4, 30, 23, 55)),
    "fall back": (Month(2027, 11), ny(2027, 11, 30, 23, 55)),
    "the year's end": (Month(2027, 12), ny(2027, 12, 31, 23, 55)),
}


@pytest.mark.parametrize("month,last_day_2355", MONTH_ENDS.values(), ids=MONTH_ENDS.keys())
def test_the_month_end_run_reports_its_own_month_on_its_last_day_only(time_machine, month, last_day_2355):
    previous_month_last_minute = month.start - timedelta(minutes=1)
    DetectionFactory(detected_at=previous_month_last_minute)
    DetectionFactory(detected_at=month.start)
    DetectionFactory(detected_at=last_day_2355 - timedelta(minutes=5))
    DetectionFactory(detected_at=month.end)  # the next month's first moment

    time_machine.move_to(last_day_2355 - timedelta(days=1), tick=False)
    day_before = services.report_generate_month_end()
    time_machine.move_to(last_day_2355, tick=False)
    report = services.report_generate_month_end()

    assert day_before is None
    assert (Month.from_date(report.month), report.status, report.detection_count) == (month, "ready", 2)
    assert report.covers_until == last_day_2355 and not report.is_complete  # five minutes still to come
    before = Report.objects.get(month=month.previous().first_day)  # caught up first, by the same run
    assert (before.detection_count, before.is_complete) == (1, True)


WEEKS = {
    # A month that starts on a Friday: its first week is Friday to Sunday.
    "October 2027": (
        Month(2027, 10),
        ["10-01..10-03", "10-04..10-10", "10-11..10-17", "10-18..10-24", "10-25..10-31"],
    ),
    # 29 February 2028 is a Tuesday: the last week is Monday and Tuesday.
    "February 2028": (
        Month(2028, 2),
        ["02-01..02-06", "02-07..02-13", "02-14..02-20", "02-21..02-27", "02-28..02-29"],
    ),
    # Spring forward on Sunday 14 March 2027, the last day of its week.
    "March 2027": (
        Month(2027, 3),
        ["03-01..03-07", "03-08..03-14", "03-15..03-21", "03-22..03-28", "03-29..03-31"],
    ),
}


@pytest.mark.parametrize("month,weeks", WEEKS.values(), ids=WEEKS.keys())
def test_weeks_are_monday_to_sunday_cut_by_the_month_in_new_york_time(month, weeks):
    last_evening = datetime_on(month.last_day, 23, 30)  # the next day already in UTC
    DetectionFactory(detected_at=last_evening)
    DetectionFactory(detected_at=datetime_on(month.first_day, 0, 0))

    counted = selectors.weekly_counts(month, Detection.objects.all())

    assert [f"{w['start'][5:]}..{w['end'][5:]}" for w in counted] == weeks
    assert [w["count"] for w in counted] == [1, 0, 0, 0, 1]


def datetime_on(day, hour, minute):
    return ny(day.year, day.month, day.day, hour, minute)
