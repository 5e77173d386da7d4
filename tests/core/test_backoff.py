"""A dependency that failed is left alone for the backoff's seconds, then tried again."""

from core.backoff import Backoff


def test_a_failure_starts_the_backoff_and_it_ends_after_its_seconds():
    backoff = Backoff(5.0)
    assert not backoff.active(now=100.0)

    backoff.failed(now=100.0)

    assert backoff.active(now=100.0) and backoff.active(now=104.9)
    assert not backoff.active(now=105.0)


def test_reset_ends_the_backoff_at_once():
    backoff = Backoff(5.0)
    backoff.failed()

    backoff.reset()

    assert not backoff.active()
