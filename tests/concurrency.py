"""The race tests' harness: callables run at the same moment, each on a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_together(*callables: Callable[[], T]) -> list[T]:
    """Call each of `callables` on its own thread, released together from a barrier so that they
    race; return their results in order once all have ended, or raise the first exception (in the
    callables' order).

    Every thread closes its database connections at the end: Django opens one per thread, and one
    left open keeps the test database from being flushed or dropped.
    """
    barrier = threading.Barrier(len(callables))
    results: list = [None] * len(callables)
    errors: list[BaseException | None] = [None] * len(callables)

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
