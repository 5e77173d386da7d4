"""Database connections after a statement was cut short in the client."""

import contextlib
import signal

from django.db import connections
from psycopg.pq import TransactionStatus


def statements_interrupted_cancel(*, close: bool = True) -> int:
    """Cancel on the server any statement this process stopped waiting for; returns how many.

    A Celery soft time limit raises in the task wherever it is, also while psycopg waits for a
    statement (a lock wait, a long query). psycopg cancels only on KeyboardInterrupt, and Django,
    failing to roll back a connection still busy, closes it: the server goes on running the
    statement in the open transaction, holding its locks (a member's processing lock, for one)
    long after the task gave up. Cancelled, the transaction is aborted and its locks go at once.
    `close`: also close the connection (not from the signal handler, whose task is still using it).
    """
    cancelled = 0
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is not None and not raw.closed and raw.pgconn.transaction_status == TransactionStatus.ACTIVE:
            raw.cancel_safe(timeout=5.0)  # on a connection of its own: the busy one is left as it is
            if close:
                connection.close()
            cancelled += 1
    return cancelled


def soft_time_limit_cancels_statements() -> None:
    """Make the pool process's soft time limit signal cancel the running statement first.

    billiard installs its handler (raise SoftTimeLimitExceeded) after the process initialisers
    run, so this wraps it from the first task's prerun; a no-op where signals cannot be set (a
    thread pool) or the handler is wrapped already.
    """
    soft = getattr(signal, "SIGUSR1", None)
    handler = signal.getsignal(soft) if soft is not None else None
    if not callable(handler) or getattr(handler, "cancels_statements", False):
        return

    def cancel_then_raise(signum, frame):
        statements_interrupted_cancel(close=False)
        handler(signum, frame)

    cancel_then_raise.cancels_statements = True
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(soft, cancel_then_raise)
