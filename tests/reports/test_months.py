"""Months in New York time, and the "last day of the month" guard cron cannot express."""

from datetime import UTC, datetime, timedelta

import pytest

from reports.months import Month, is_last_day_of_month
from tests.reports.conftest import ny


@pytest.mark.parametrize(
    "month,last_day",
    [("2026-02", 28), ("2028-02", 29), ("2026-04", 30), ("2026-10", 31), ("2026-12", 31)],
    ids=["28 days", "29 days (leap year)", "30 days", "31 days", "december"],
)
def test_only_the_last_day_passes_the_guard(month, last_day):
    month = Month.parse(month)
    days_28_to_31 = [month.first_day.replace(day=d) for d in range(28, 32) if d <= month.last_day.day]
    moments = [ny(day.year, day.month, day.day, 23, 55) for day in days_28_to_31]

    acting = [m.day for m in moments if is_last_day_of_month(m)]

    assert acting == [last_day]
    assert month.last_day.day == last_day


def test_the_guard_reads_new_york_time_not_utc():
    # 04:30 UTC on 1 November is still 31 October in New York.
    assert is_last_day_of_month(datetime(2026, 11, 1, 3, 55, tzinfo=UTC))
    assert not is_last_day_of_month(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))


def test_month_bounds_are_new_york_midnights_across_dst():
    march, november = Month(2026, 3), Month(2026, 11)

    assert march.start.astimezone(UTC) == datetime(2026, 3, 1, 5, tzinfo=UTC)  # EST
    assert march.end.astimezone(UTC) == datetime(2026, 4, 1, 4, tzinfo=UTC)  # EDT
    assert november.start.astimezone(UTC) == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert november.end.astimezone(UTC) - november.start.astimezone(UTC) == timedelta(days=30, hours=1)


def test_parse_and_neighbours():
    assert str(Month.parse("2026-10")) == "2026-10"
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    for bad in ["2026-13", "2026-1", "October", "", "1999-12"]:
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(bad)
