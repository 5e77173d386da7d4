"""Celery tasks for digests: thin callers of digests.services."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from . import services
from .models import Digest
from .runs import advance_summary, deliveries_advance


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=30, max_retries=10)
def digest_build_weekly() -> str:
    """Friday 17:00 America/New_York (see core/schedules.py). Safe to run twice, so a database
    outage (or a deadlock PostgreSQL broke) is retried rather than leaving the week for next Friday."""
    return services.build_summary(services.digest_build_and_send(Digest.Kind.WEEKLY, freeze_gc=True))


@shared_task(expires=50)
def alerts_build_due() -> str:
    """Every minute: real-time audiences' alerts whose coalescing window has passed. Not retried by
    Celery: a detection not taken has no receipt, so the next minute's run takes it."""
    build = services.alerts_build_due()
    if build.built_now:
        services.deliveries_send_enqueue()
    return services.build_summary(build)


@shared_task(expires=50)
def deliveries_send_due() -> str:
    # Retries are the delivery's own (its schedule and the circuit breaker), not Celery's: a task
    # retry would bypass both. This task also runs every minute, so nothing waits for long.
    runs, sending = deliveries_advance()
    if sending.deployed:  # look at the new runs soon, not only at the next minute's run
        deliveries_send_due.apply_async(countdown=settings.AA_RUN_FIRST_CHECK_SECONDS)
    return advance_summary(runs, sending)
