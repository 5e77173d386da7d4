"""Calendar months in America/New_York: the period a report covers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-10' -> Month(2026, 10); ValueError with a readable message otherwise."""
        match = _MONTH.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-10")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        local = moment.astimezone(local_zone())
        return cls(local.year, local.month)

    @classmethod
    def from_date(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        """Midnight at the start of the month, New York time (aware)."""
        return datetime.combine(self.first_day, time(), tzinfo=local_zone())

    @property
    def end(self) -> datetime:
        """Midnight at the start of the next month: the period is [start, end)."""
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def is_last_day_of_month(moment: datetime) -> bool:
    """True when tomorrow is the 1st in New York: cron cannot say "last day", so the
    month-end task runs on days 28-31 and asks this."""
    local = moment.astimezone(local_zone()).date()
    return (local + timedelta(days=1)).day == 1
