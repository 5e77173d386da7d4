"""Celery tasks for digests: thin callers of digests.services."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from . import services
from .models import Digest

# The registered names (`name=`) are the ones beat's rows, the time-limit annotations
# (settings.CELERY_TASK_ANNOTATIONS) and messages already queued carry: a task renamed in Python
# keeps its wire name, so no row, annotation or queued message is left pointing at nothing.


@shared_task(
    name="digests.tasks.digest_build_weekly",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    max_retries=10,
)
def digest_build_and_send_weekly() -> str:
    """Friday 17:00 America/New_York (see core/schedules.py): build the weekly digests and send
    them. Safe to run twice, so a database outage (or a deadlock PostgreSQL broke) is retried
    rather than leaving the week for next Friday."""
    return services.build_summary(services.digest_build_and_send(Digest.Kind.WEEKLY, freeze_gc=True, via=None))


@shared_task(expires=50)
def alerts_build_due() -> str:
    """Every minute: real-time audiences' alerts whose coalescing window has passed. Not retried by
    Celery: a detection not taken has no receipt, so the next minute's run takes it."""
    build = services.alerts_build_due()
    if build.built_now:
        services.deliveries_send_enqueue()
    return services.build_summary(build)


@shared_task(name="digests.tasks.deliveries_send_due", expires=50)
def deliveries_runs_check_and_send() -> str:
    """Every minute: how deployed bot runs ended, then send what is due."""
    # Retries are the delivery's own (its schedule and the circuit breaker), not Celery's: a task
    # retry would bypass both. This task also runs every minute, so nothing waits for long.
    runs, sending = services.deliveries_runs_check_and_send()
    if sending.deployed:  # look at the new runs soon, not only at the next minute's run
        deliveries_runs_check_and_send.apply_async(countdown=settings.AA_RUN_FIRST_CHECK_SECONDS)
    return services.runs_check_and_send_summary(runs, sending)
