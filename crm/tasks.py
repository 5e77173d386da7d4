"""Celery tasks: thin callers of crm.services, each owning its retry policy."""

from celery import shared_task
from django.db import DatabaseError

from .services import handoffs


@shared_task(expires=50, autoretry_for=(DatabaseError,), retry_backoff=5, max_retries=5)
def crm_handoffs_run() -> dict:
    """Find the detections to hand off and hand off what is due (when CRM_HANDOFF_ENABLED)."""
    return handoffs.handoffs_run()
