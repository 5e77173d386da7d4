"""Month-end reports: generate them, regenerate them safely, and never miss one."""

from __future__ import annotations

import io
import logging
import tempfile
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from classification.services import ruleset_active
from core.metrics import REPORT_SECONDS

from . import rendering, selectors
from .models import Report
from .months import Month, is_last_day_of_month

logger = logging.getLogger(__name__)


class ReportQueueUnavailable(Exception):
    """The broker refused the job: nothing was queued, the caller should try again later."""


def report_generate_month(*, month: Month, now: datetime | None = None, user=None, via: str | None = None) -> Report:
    """Generate (or regenerate) the month's report: summary, CSV and HTML. An operator's run in
    this process (`via`: the command) is audited (`report.generate`) with the summary it records;
    the schedule's and a worker's run (`via` None) are not (report_request audited the asking).

    The report row is locked for the whole run, so two runs at once produce one report, one
    after the other. New files get new names and the row switches to them in the same
    transaction that records the summary; the previous files are deleted after the commit.
    A reader therefore sees the old report or the new one, never a mix or a partial file.
    """
    now = now or timezone.now()
    if month.start > now:
        raise ValueError(f"{month} has not started yet")
    report, _ = Report.objects.get_or_create(month=month.first_day)
    written: list = []
    try:
        with REPORT_SECONDS.time(), transaction.atomic():
            report = Report.objects.select_for_update().get(pk=report.pk)
            previous = [f.name for f in (report.csv_file, report.html_file) if f]
            version = ruleset_active().version
            summary = selectors.month_summary(month, until=now, rules_version=version)
            count = _files_save(report, month, summary, now, written)
            report.status = Report.Status.READY
            report.summary = summary
            report.detection_count = count
            report.rules_version = version
            report.generated_at = now
            report.covers_until = min(month.end, now)
            report.error = ""
            report.save()
            if via is not None:
                audit_record(user, "report.generate", via=via, target=f"report {month}")
            transaction.on_commit(lambda: _files_delete(previous))
    except Exception as exc:
        _files_delete(written)
        # A report that was ready keeps its previous files; only the error is recorded.
        Report.objects.filter(pk=report.pk).exclude(status=Report.Status.READY).update(status=Report.Status.FAILED)
        Report.objects.filter(pk=report.pk).update(error=f"{exc.__class__.__name__}: {exc}"[:2000])
        logger.exception("report for %s failed", month)
        raise
    logger.info("report for %s generated: %d detections", month, count)
    return report


def _files_save(report: Report, month: Month, summary: dict, now: datetime, written: list) -> int:
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    name = f"captpathfinder-report-{month}-{stamp}"
    rows = selectors.detection_rows(month, until=now)
    # Spooled to disk past 1 MiB so a large month never sits in memory; utf-8-sig puts the
    # byte-order mark spreadsheets need to read the CSV as UTF-8.
    with (
        tempfile.SpooledTemporaryFile(max_size=2**20) as csv_bytes,
        tempfile.SpooledTemporaryFile(max_size=2**20) as html_bytes,
    ):
        csv_text = io.TextIOWrapper(csv_bytes, encoding="utf-8-sig", newline="")
        html_text = io.TextIOWrapper(html_bytes, encoding="utf-8")
        count = rendering.files_write(rows, csv_text, html_text, month=month, summary=summary, generated_at=now)
        for text, field, suffix in ((csv_text, report.csv_file, "csv"), (html_text, report.html_file, "html")):
            text.flush()
            text.buffer.seek(0)
            field.save(f"{name}.{suffix}", File(text.buffer), save=False)
            written.append(field.name)
        csv_text.detach()
        html_text.detach()
    return count


def _files_delete(names: list[str]) -> None:
    storage = Report._meta.get_field("csv_file").storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # a leftover file is untidy, not harmful
            logger.warning("could not delete report file %s", name, exc_info=True)


def report_generate_month_end(*, now: datetime | None = None) -> Report | None:
    """Beat runs this on days 28-31 at 23:55 New York time: it acts on the last day only.

    It also catches up first, so months missed while beat was down are generated too.
    """
    now = now or timezone.now()
    reports_catch_up(now=now)
    if not is_last_day_of_month(now):
        return None
    return report_generate_month(month=Month.of(now), now=now)


def reports_catch_up(*, now: datetime | None = None) -> list[Report]:
    """Generate every ended month whose report is missing, failed or generated before the
    month was over (the 23:55 run misses the month's last five minutes; this completes it)."""
    now = now or timezone.now()
    generated = []
    for month in selectors.months_needing_report(now=now, months_back=settings.REPORTS_CATCH_UP_MONTHS):
        try:
            generated.append(report_generate_month(month=month, now=now))
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: the month is marked failed, the rest wait for the next run
        except Exception:  # one bad month must not block the others; it is retried next run
            logger.exception("catch-up report for %s failed", month)
    return generated


def report_request(*, month: Month, user, via: str, regenerate: bool = False, now: datetime | None = None) -> Report:
    """Queue a (re)generation for a worker: the API's and the admin's way in. Audited once queued:
    `report.regenerate` (the admin's action on a listed report) or `report.generate`.

    Raises ValueError for a month not started, ReportQueueUnavailable if the broker is down.
    """
    now = now or timezone.now()
    if month.start > now:
        raise ValueError(f"{month} has not started yet")
    report, _ = Report.objects.get_or_create(month=month.first_day)
    from .tasks import report_generate_month as task

    try:
        task.delay(str(month))
    except Exception as exc:
        raise ReportQueueUnavailable(f"the task queue is unavailable: {exc}") from exc
    with transaction.atomic():
        audit_record(user, "report.regenerate" if regenerate else "report.generate", via=via, target=f"report {month}")
    return report
