"""The service's range of dates (core.dates): checked in New York time, as every reader reads it back."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.dates import MomentOutOfRange, day_text, moment_check, moment_local, moment_shown, moment_text

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1900, 1, 1, tzinfo=NEW_YORK),
        datetime(1900, 1, 1, 5, tzinfo=UTC),  # midnight in New York
        datetime(2199, 12, 31, 23, 59, 59, tzinfo=NEW_YORK),
        datetime(2200, 1, 1, 3, tzinfo=UTC),  # still 2199 in New York
        datetime(2019, 10, 10, 16, 7, 21),  # naive: New York time
    ],
)
def test_moments_within_the_range_in_new_york_pass(moment):
    checked = moment_check(moment)

    assert checked.utcoffset() is not None
    assert moment_local(checked) == checked


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),  # year 0 in New York: Python cannot even hold it
        datetime(1900, 1, 1, 4, tzinfo=UTC),  # 1899 in New York, though 1900 in UTC
        datetime(1899, 12, 31, 23, 59, 59, tzinfo=NEW_YORK),
        datetime(2200, 1, 1, tzinfo=NEW_YORK),
        datetime(9999, 12, 31, 23, 59, 59),  # naive: New York time, past year 9999 in UTC
        datetime(1, 1, 1),
    ],
)
def test_moments_outside_the_range_in_new_york_are_refused_with_the_range(moment):
    with pytest.raises(MomentOutOfRange, match="from 1900-01-01 up to 2200-01-01, New York time"):
        moment_check(moment)


def test_a_stored_moment_out_of_range_is_shown_as_invalid_with_its_utc_value():
    stored = datetime(1, 1, 1, tzinfo=UTC)  # as PostgreSQL gives it back: in UTC

    assert moment_local(stored) is None
    assert moment_shown(stored) == "invalid (0001-01-01 00:00 UTC)"
    assert moment_shown(None) is None
    in_range = datetime(2020, 5, 6, tzinfo=UTC)
    assert moment_shown(in_range) is in_range


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 6, 19, 22, tzinfo=UTC), "Dec 6, 2026 14:22 EST"),
        (datetime(2026, 7, 4, 4, 5, tzinfo=UTC), "Jul 4, 2026 00:05 EDT"),
        (None, "—"),
    ],
)
def test_a_moment_is_written_in_new_york_time_with_its_zone(moment, shown):
    assert moment_text(moment) == shown


def test_a_day_is_written_as_the_admin_writes_it():
    assert day_text(date(2026, 12, 4)) == "Dec 4, 2026"
