"""core.rates: a client that keeps to a rate, and slows down when told."""

import pytest

from core import rates
from core.rates import RateLimiter


@pytest.fixture
def clock(monkeypatch):
    """A clock that moves only when the limiter sleeps: the waits it asks for, recorded."""
    now, sleeps = [100.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(rates.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(rates.time, "sleep", sleep)
    return sleeps


def test_the_rate_limiter_spaces_calls(clock):
    limiter = RateLimiter(4)

    for _ in range(5):
        limiter.wait()

    assert clock == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_a_new_rate_counts_from_the_call_after_next(clock):
    limiter = RateLimiter(10)
    limiter.wait()
    limiter.wait()  # 0.1 s after the first
    limiter.per_second_set(2)
    limiter.wait()  # the turn the previous rate gave it
    limiter.wait()

    assert clock == pytest.approx([0.1, 0.1, 0.5])
