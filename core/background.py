"""Work a request asks for but must not wait for, done on a thread of its own process."""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class BackgroundCall:
    """Calls `function` on a daemon thread of the current process whenever `request()` is called.

    `request()` returns at once. Requests made while a call is running coalesce into one more
    call after it, so the function should be cheap to call again and decide for itself whether
    there is anything to do. Each call runs in the context (contextvars: the request id) of the
    latest request before it. The thread starts on the first request in a process (and in a child
    after a fork). At exit, the process waits up to `exit_timeout` seconds for calls asked for.
    """

    def __init__(self, function: Callable[[], object], *, name: str, exit_timeout: float = 5.0) -> None:
        self.function = function
        self.name = name
        self._context = contextvars.Context()  # the latest request's, set before each call is asked for
        self._forget_thread()
        os.register_at_fork(after_in_child=self._forget_thread)  # a fork copies no threads
        atexit.register(self.wait_idle, timeout=exit_timeout)

    def _forget_thread(self) -> None:
        self._condition = threading.Condition()
        self._wanted = self._running = self._started = False

    def request(self) -> None:
        if not self._started:
            self._start()
        self._context = contextvars.copy_context()
        with self._condition:
            self._wanted = True
            self._condition.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no call is asked for or running; returns whether that happened in time."""
        with self._condition:
            return self._condition.wait_for(lambda: not (self._wanted or self._running), timeout)

    def _start(self) -> None:
        with self._condition:
            if not self._started:
                threading.Thread(target=self._run, name=self.name, daemon=True).start()
                self._started = True

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._wanted)
                self._wanted, self._running = False, True  # a request during the call asks for one more
            try:
                self._context.copy().run(self.function)  # a copy: a context runs on one thread at a time
            except Exception:
                logger.exception("%s failed", self.name)
            finally:
                with self._condition:
                    self._running = False
                    self._condition.notify_all()


def task_enqueue_or_leave(task, *, what: str) -> None:
    """Ask a worker for `task` now. For work a periodic run also does: an unreachable broker only
    delays it until then, so the failure is logged, not raised."""
    try:
        task.delay()
    except Exception:  # kombu raises several unrelated types for an unreachable broker
        logger.warning("could not enqueue %s; the periodic run will", what, exc_info=True)
