"""The Celery application: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "captpathfinder.settings.local")

app = Celery("captpathfinder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes every database connection before and after every task (unless
# CELERY_DB_REUSE_MAX, which settings put out of reach): each wake-up then paid a new PostgreSQL
# backend — a fork and cold catalog caches at full priority, on the cores the webhook answers
# from. Workers keep their connection as requests do, by CONN_MAX_AGE.


@signals.worker_init.connect
def classification_rules_preload(**kwargs) -> None:
    """Load the classification rules in the worker's main process, before the pool forks.

    Each pool process would otherwise parse, compile and speed-probe them on its first batch, and
    again each time the pool replaces a process: about 0.4 s of CPU apiece, a fifth of a worker's
    CPU over a 30 s `make bench`. Finding the active ruleset may open a database connection (or,
    with DATABASE_POOL, psycopg's pool and its threads): both are closed here, so that no pool
    process inherits a connection or a pool."""
    from django.db import connections

    from classification.services import ruleset_preload

    try:
        ruleset_preload()
    finally:
        for connection in connections.all(initialized_only=True):
            connection.close()
            if connection.settings_dict.get("OPTIONS", {}).get("pool"):
                connection.close_pool()


@signals.worker_process_init.connect
def pool_process_own_group(**kwargs) -> None:
    """A prefork pool process leads a process group of its own.

    honcho (make run), supervisord's stopasgroup and `kill -TERM -<pgid>` signal the worker's whole
    group; a pool process that gets SIGTERM exits in the middle of its task (billiard), which
    defeats the warm shutdown the main process begins on the same signal. Out of that group, only
    the main process hears it, and it stops the pool once the tasks finish. A pool process still
    dies with the main one (Celery sets PR_SET_PDEATHSIG), and billiard's hard time limit kills a
    group leader's whole group."""
    os.setpgid(0, 0)


@signals.task_prerun.connect
def database_connections_check(**kwargs) -> None:
    """Before a task: drop a connection that is past CONN_MAX_AGE, or that the server has closed
    since the last task (a restart, an idle timeout), so no task starts on a dead connection.
    One round trip per task; tasks here are wake-ups and sweeps, a few per second."""
    from django.db import close_old_connections, connections

    from core.database import soft_time_limit_cancels_statements

    soft_time_limit_cancels_statements()
    close_old_connections()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()


@signals.task_postrun.connect
def database_connections_release(**kwargs) -> None:
    """After a task, what Django does after a request: close a connection left unusable by an
    error or past CONN_MAX_AGE (with DATABASE_POOL, CONN_MAX_AGE is 0: back to the pool)."""
    from django.db import close_old_connections

    from core.database import statements_interrupted_cancel

    statements_interrupted_cancel()  # a soft time limit may have cut a statement short
    close_old_connections()
