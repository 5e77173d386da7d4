"""Keeping to a rate: the third parties publish no limits, or share one with the customer's other
integrations, so each client keeps itself polite."""

from __future__ import annotations

import time


class RateLimiter:
    """At most `per_second` calls a second (none published: a client keeps itself polite)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval

    def per_second_set(self, per_second: float) -> None:
        """A new rate from the next call on (a client that slows down near a limit)."""
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
