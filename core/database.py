"""Database connections: a cursor that binds on the server, and after a statement was cut short."""

import contextlib
import signal

import psycopg
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.base import CursorDebugWrapper
from psycopg.pq import TransactionStatus


def server_bound_cursor():
    """A cursor of the default connection that binds its parameters on the server and prepares
    what it executes, once per connection and again after a transaction rolls back (psycopg's
    rollback deallocates every prepared statement); wrapped as Django wraps its own (errors, execute
    wrappers, query log). For statements that return no timestamps: Django's time zone loader is
    not set up on it.

    Django's cursors bind on the client and send each statement as text, which PostgreSQL parses
    and plans every time: for a statement run on every request that is measurable (the webhook's
    intake call: docs/performance-log.md). Nothing is prepared behind a transaction pool
    (`DATABASE_TRANSACTION_POOLING`), where a prepared statement stays with one server connection.
    """
    default = connections["default"]
    default.close_if_health_check_failed()
    default.ensure_connection()
    with default.wrap_database_errors:
        cursor = _PreparingCursor(default.connection)
    cursor.prepares = not settings.DATABASE_TRANSACTION_POOLING
    default.validate_thread_sharing()
    return _LoggedCursor(cursor, default) if default.queries_logged else default.make_cursor(cursor)


class _PreparingCursor(psycopg.Cursor):
    """Prepares each statement on its first execution in the connection.

    Django opens connections with psycopg's `prepare_threshold` at None, which turns preparing
    off, and with it psycopg's record of every statement the connection runs (as text, values
    and all, for Django's client-side cursors). It stays None: only this cursor's execution
    lifts it, and puts it back after.
    """

    prepares = True

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if not self.prepares:
            return super().execute(query, params, prepare=False, binary=binary)
        connection = self.connection
        threshold = connection.prepare_threshold
        connection.prepare_threshold = 0 if threshold is None else threshold
        try:
            return super().execute(query, params, prepare=True, binary=binary)
        finally:
            connection.prepare_threshold = threshold


class _LoggedCursor(CursorDebugWrapper):
    """Django's query log (DEBUG, tests) records the statement as written, with its parameters:
    the text Django reads back from psycopg is not kept for a prepared statement's executions."""

    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        return super().debug_sql(sql, params, use_last_executed_query=False, many=many)


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
