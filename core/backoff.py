"""Leave an unreachable dependency alone for a while after it failed (per process)."""

from __future__ import annotations

import time


class Backoff:
    """After `failed()`, `active()` is true for `seconds`.

    A dependency that does not answer costs each try a timeout (a connect or socket timeout of one
    or two seconds); callers that have another way to get the work done later (the outbox sweep,
    failing open) skip it meanwhile instead of paying that timeout again and again.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until = 0.0

    def active(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self._until

    def failed(self, now: float | None = None) -> None:
        self._until = (time.monotonic() if now is None else now) + self.seconds

    def reset(self) -> None:
        self._until = 0.0
