"""When to try a failed piece of work again: the one step every retry schedule takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta


def retry_at(schedule: Sequence[int], attempt: int, now: datetime) -> datetime | None:
    """When to make the try after `attempt` (the number of the try that just failed, from 1):
    `schedule[attempt - 1]` seconds after `now`, or None when the schedule is used up and the
    work should be given up.

    A schedule (DIGEST_RETRY_SCHEDULE, COMMUNITY_WRITEBACK_RETRY_SCHEDULE) is a list of waits, one
    per retry, so it bounds both how often a failing third party is asked and how long a piece of
    work can stay unfinished before an operator is told. Attempt 0 is refused rather than read as
    `schedule[-1]`: it means a caller counted wrong.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if attempt > len(schedule):
        return None
    return now + timedelta(seconds=schedule[attempt - 1])
