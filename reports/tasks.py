"""Celery tasks for reports: thin callers of reports.services."""

from celery import shared_task

from . import services
from .months import Month


@shared_task(acks_late=True)
def report_generate_month_end() -> str | None:
    """Days 28-31 at 23:55 America/New_York (see core/schedules.py); acts on the last day."""
    report = services.report_generate_month_end()
    return str(report) if report else None


@shared_task(acks_late=True)
def reports_catch_up() -> int:
    """Daily: months missed while beat or the workers were down are generated now."""
    return len(services.reports_catch_up())


@shared_task(acks_late=True)
def report_generate_month(month: str) -> int:
    """An operator's (re)generation request from the API or the admin."""
    return services.report_generate_month(month=Month.parse(month)).pk
