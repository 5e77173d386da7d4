"""The environment that moves the clock of a process and all its children: libfaketime.

`make test-calendar` runs the whole suite, servers and Celery workers included, with the clock a
year ahead just after midnight on the first of a month, and at a daylight-saving change, so that a
test that mixes a fixed moment with the real clock fails there and not on the day the calendar
passes that moment.

The library is the one the `libfaketime` wheel ships (requirements-dev.txt): Debian's 0.9.10 makes
Python 3.11's time.sleep() fail with EINVAL.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
# libfaketime's own relative form: a signed number of seconds, or of minutes, hours, days, years.
_OFFSET = re.compile(r"[+-]\d+(\.\d+)?[mhdy]?")
CLOCK_VARIABLES = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC")


def spring_forward_eve(after: datetime) -> datetime:
    """01:59 New York time on the next day its clocks spring forward (02:00 EST -> 03:00 EDT)."""
    day = after.astimezone(NEW_YORK).date()
    while True:
        eve = datetime.combine(day, time(1, 59), tzinfo=NEW_YORK)
        if eve > after and eve.utcoffset() < datetime.combine(day, time(3, 0), tzinfo=NEW_YORK).utcoffset():
            return eve
        day += timedelta(days=1)


def month_start_a_year_ahead(after: datetime) -> datetime:
    """00:05 New York on the first day of the month after the same day next year: a new day, month
    and possibly year minutes old, so that "an hour ago" is yesterday and last month. A run at any
    other time of day would pass a test that is only right away from midnight (one that expected
    today's date for a detection an hour old failed CI at 00:16)."""
    day = after.astimezone(NEW_YORK).date()
    year, month = (day.year + 1, day.month + 1) if day.month < 12 else (day.year + 2, 1)
    return datetime(year, month, 1, 0, 5, tzinfo=NEW_YORK)


def faketime_offset(when: str, *, now: datetime | None = None) -> str:
    """FAKETIME for `when`: an offset as libfaketime writes it, passed on as it is; `spring-forward`,
    the eve of New York's next spring change; `month-start-year-ahead` (above); or an ISO moment
    (New York time unless it says otherwise). A moment becomes its offset from now, not an absolute
    start time: libfaketime starts an absolute clock afresh in each program it is loaded into, so a
    worker started minutes into the run would live minutes behind the tests."""
    if _OFFSET.fullmatch(when):
        return when
    now = now or datetime.now(tz=NEW_YORK)
    if when == "spring-forward":
        moment = spring_forward_eve(now)
    elif when == "month-start-year-ahead":
        moment = month_start_a_year_ahead(now)
    else:
        try:
            moment = datetime.fromisoformat(when)
        except ValueError:
            raise SystemExit(
                f"--clock {when!r}: give an ISO date and time (2027-03-14T01:59), an offset (+365d), "
                "spring-forward or month-start-year-ahead"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=NEW_YORK)
    return f"{(moment - now).total_seconds():+.0f}"


def libfaketime_path() -> str:
    """The wheel's libfaketime.so.1, found without importing the package (it imports pytz and
    dateutil, and nothing of it is needed but the library)."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or spec.origin is None:
        raise SystemExit("the libfaketime package is missing: pip install -r requirements-dev.txt")
    library = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not library.exists():
        raise SystemExit(f"{library} is missing: the libfaketime wheel ships it for Linux only")
    return str(library)


def clock_environ(when: str) -> dict[str, str]:
    return {
        "LD_PRELOAD": libfaketime_path(),
        "FAKETIME": faketime_offset(when),
        # Timeouts, waits and lock deadlines measure with the monotonic clock: leave it real.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
