"""A failed try is retried after its schedule's wait, and given up after the last."""

from datetime import UTC, datetime, timedelta

import pytest

from core.retries import retry_at

NOW = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
SCHEDULE = [60, 300, 1800]


def test_each_failed_try_waits_its_own_step_of_the_schedule():
    waits = [retry_at(SCHEDULE, attempt, NOW) for attempt in (1, 2, 3)]

    assert waits == [NOW + timedelta(seconds=60), NOW + timedelta(seconds=300), NOW + timedelta(seconds=1800)]


def test_a_failure_after_the_last_step_gives_up():
    assert retry_at(SCHEDULE, 4, NOW) is None
    assert retry_at(SCHEDULE, 10, NOW) is None
    assert retry_at([], 1, NOW) is None  # an empty schedule: no retries at all


def test_attempts_count_from_one():
    with pytest.raises(ValueError, match="from 1"):
        retry_at(SCHEDULE, 0, NOW)
