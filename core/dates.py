"""The dates the service keeps: from 1900-01-01 up to (not including) 2200-01-01, New York time.

Every date from outside (a webhook's, a community profile's, a CSV backfill's) is checked here,
in New York time (settings.TIME_ZONE), because that is how the API, the admin and the reports read
it back: 0001-01-01T00:00:00Z is a valid UTC moment, but in New York it falls in year 0, which
Python's datetime cannot hold, so one such row broke every page that listed it. The bounds are
wide enough for any real join date and narrow enough to stay clear of both ends of the calendar.

A row stored before the check (or by hand) is read with `moment_local`, which gives None for a
date out of range, so the reader shows it as invalid and renders the rest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils import timezone
from django.utils.formats import date_format

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 1, 1)  # excluded
RANGE_TEXT = f"from {EARLIEST} up to {LATEST}, New York time"
INVALID_TEXT = "invalid"


class MomentOutOfRange(ValueError):
    pass


def moment_check(moment: datetime) -> datetime:
    """`moment` made aware (a naive one is New York time), when it lies in the range; otherwise
    MomentOutOfRange, worded for the sender."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment_local(moment) is None:
        raise MomentOutOfRange(f"must be {RANGE_TEXT}")
    return moment


def moment_local(moment: datetime | None) -> datetime | None:
    """A stored (aware) moment in New York time; None when there is none or it is out of range."""
    if moment is None:
        return None
    try:
        local = moment.astimezone(timezone.get_default_timezone())
    except OverflowError:  # before year 1 or after year 9999 once in New York
        return None
    return local if EARLIEST <= local.date() < LATEST else None


def moment_shown(moment: datetime | None) -> datetime | str | None:
    """What a page shows for a stored moment: the moment itself when in range (the page localises
    it), else "invalid" with the stored value in UTC, as the database gives it back."""
    if moment is None or moment_local(moment) is not None:
        return moment
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return INVALID_TEXT
    return f"{INVALID_TEXT} ({utc.year:04d}-{utc:%m-%d %H:%M} UTC)"  # strftime's %Y drops year 1's zeros


def moment_text(moment: datetime | None) -> str:
    """A moment as every page and message writes it: "Dec 6, 2026 14:22 EST", New York time
    (DATETIME_FORMAT, captpathfinder/formats); "—" for none."""
    if moment is None:
        return "—"
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def day_text(day: date) -> str:
    """A day as every page and message writes it: "Dec 4, 2026" (DATE_FORMAT)."""
    return date_format(day, "DATE_FORMAT")
