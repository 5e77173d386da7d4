"""Celery tasks: thin callers of crm.services, each owning its retry policy."""

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from .services import handoffs


@shared_task(expires=50, autoretry_for=(DatabaseError,), retry_backoff=5, max_retries=5)
def crm_handoffs_run() -> dict:
    """Find the detections to hand off and hand off what is due (CRM_HANDOFF_ENABLED). A run that
    ran out of time carries on in a fresh task; one that Salesforce stopped waits for its retry time."""
    if not settings.CRM_HANDOFF_ENABLED:
        return {}
    found = handoffs.handoffs_find()
    report = handoffs.handoffs_run_due()
    if report.more and report.paused_until is None and not report.retrying:
        handoffs.handoffs_wake()
    return {"found": found, **{k: v for k, v in vars(report).items() if k != "paused_until"}}
