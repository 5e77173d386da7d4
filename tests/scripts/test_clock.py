"""The moved clock of make test-calendar: which moment, and the environment that moves it."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scripts import clock

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "now,eve",
    [
        (datetime(2026, 12, 6, 15, 0, tzinfo=NEW_YORK), datetime(2027, 3, 14, 1, 59, tzinfo=NEW_YORK)),
        (datetime(2027, 3, 14, 1, 0, tzinfo=NEW_YORK), datetime(2027, 3, 14, 1, 59, tzinfo=NEW_YORK)),
        (datetime(2027, 3, 14, 3, 30, tzinfo=NEW_YORK), datetime(2028, 3, 12, 1, 59, tzinfo=NEW_YORK)),
        (datetime(2027, 11, 7, 1, 30, tzinfo=NEW_YORK), datetime(2028, 3, 12, 1, 59, tzinfo=NEW_YORK)),
    ],
)
def test_spring_forward_is_the_minute_before_new_yorks_next_spring_change(now, eve):
    assert clock.spring_forward_eve(now) == eve
    assert clock.faketime_offset("spring-forward", now=now) == f"{(eve - now).total_seconds():+.0f}"


@pytest.mark.parametrize(
    "now,start",
    [
        (datetime(2026, 12, 7, 0, 30, tzinfo=NEW_YORK), datetime(2028, 1, 1, 0, 5, tzinfo=NEW_YORK)),
        (datetime(2026, 12, 6, 23, 0, tzinfo=ZoneInfo("UTC")), datetime(2028, 1, 1, 0, 5, tzinfo=NEW_YORK)),
        (datetime(2027, 1, 31, 12, 0, tzinfo=NEW_YORK), datetime(2028, 2, 1, 0, 5, tzinfo=NEW_YORK)),
        (datetime(2027, 6, 15, 12, 0, tzinfo=NEW_YORK), datetime(2028, 7, 1, 0, 5, tzinfo=NEW_YORK)),
    ],
)
def test_month_start_is_just_after_midnight_on_a_first_a_year_ahead(now, start):
    assert clock.month_start_a_year_ahead(now) == start
    assert clock.faketime_offset("month-start-year-ahead", now=now) == f"{(start - now).total_seconds():+.0f}"


def test_a_moment_becomes_its_offset_from_now_and_offsets_pass_through():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=NEW_YORK)

    assert clock.faketime_offset("2026-12-07T12:00", now=now) == "+86400"  # New York time when it names none
    assert clock.faketime_offset("2026-12-06T12:00:00+00:00", now=now) == "-18000"
    assert [clock.faketime_offset(o, now=now) for o in ("+365d", "-120", "+1.5h")] == ["+365d", "-120", "+1.5h"]
    with pytest.raises(SystemExit, match="give an ISO date and time"):
        clock.faketime_offset("next Friday", now=now)


def test_the_environment_preloads_the_wheels_library_and_leaves_the_monotonic_clock_real():
    environ = clock.clock_environ("+365d")

    assert Path(environ["LD_PRELOAD"]).name == "libfaketime.so.1" and Path(environ["LD_PRELOAD"]).exists()
    assert (environ["FAKETIME"], environ["FAKETIME_DONT_FAKE_MONOTONIC"]) == ("+365d", "1")
    assert set(environ) == set(clock.CLOCK_VARIABLES)
