"""The figures and rows of a month's report, read straight from the database.

Everything is aggregated in SQL (GROUP BY with conditional counts) or read in keyset chunks
(core.querysets), so memory does not grow with the number of detections.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import Case, Count, Min, Q, QuerySet, When
from django.db.models.functions import TruncDate
from django.http import FileResponse, Http404

from classification.models import Level
from core.querysets import keyset_chunks
from detections.models import Detection, RawEvent, SeniorMember

from .months import Month, local_zone

TOP_COMPANIES = 10
ROW_FIELDS = [
    "user_id",
    "username",
    "title",
    "level",
    "function",
    "kind",
    "company",
    "country",
    "joined_at",
    "detected_at",
]
_LEVEL_COUNTS = {level: Count("id", filter=Q(level=level)) for level in Level.values}
_LEVEL_COUNTS_MEMBERS = {level: Count("user_id", filter=Q(level=level)) for level in Level.values}


def detections_in(month: Month, *, until: datetime) -> QuerySet[Detection]:
    return Detection.objects.filter(detected_at__gte=month.start, detected_at__lt=min(month.end, until))


def detection_rows(month: Month, *, until: datetime, chunk_size: int = 2000) -> Iterator[tuple]:
    """The month's detections as tuples in ROW_FIELDS order, oldest first, read in chunks."""
    rows = detections_in(month, until=until).values_list(*ROW_FIELDS, "id")
    detected_at = ROW_FIELDS.index("detected_at")
    chunks = keyset_chunks(
        rows, order=("detected_at", "id"), key_of=lambda row: (row[detected_at], row[-1]), chunk_size=chunk_size
    )
    return (row[:-1] for row in chunks)


def month_summary(month: Month, *, until: datetime, rules_version: str) -> dict:
    detections = detections_in(month, until=until)
    by_kind_level = {kind: dict.fromkeys(Level.values, 0) for kind in Detection.Kind.values}
    for row in detections.values("kind", "level").annotate(n=Count("id")).order_by():
        by_kind_level.setdefault(row["kind"], dict.fromkeys(Level.values, 0))[row["level"]] = row["n"]
    by_level = {level: sum(levels[level] for levels in by_kind_level.values()) for level in Level.values}
    return {
        "month": str(month),
        "timezone": str(local_zone()),
        "period": {"start": month.start.isoformat(), "end": month.end.isoformat()},
        "covers_until": min(month.end, until).isoformat(),
        "senior_members": members_at(month, until=until),
        "detections": {
            "total": sum(by_level.values()),
            "by_kind": {kind: sum(levels.values()) for kind, levels in by_kind_level.items()},
            "by_level": by_level,
            "by_kind_and_level": by_kind_level,
        },
        "departures": departures_in(month, until=until),
        "by_function": breakdown(detections, "function"),
        "by_country": breakdown(detections, "country", label_blank="Unknown"),
        "top_companies": breakdown(detections.exclude(company=""), "company", limit=TOP_COMPANIES),
        "weeks": weekly_counts(month, detections),
        "rules_versions": sorted(detections.order_by().values_list("rules_version", flat=True).distinct()),
        "rules_version_active": rules_version,
    }


def members_at(month: Month, *, until: datetime) -> dict:
    """Senior members at month end by level.

    Only current seniors are stored, so this is the membership when the report is generated,
    limited to members first detected before the month ended: exact for the month-end run,
    an approximation when a past month is regenerated later (see docs/reports.md).
    """
    members = SeniorMember.objects.filter(first_detected_at__lt=month.end)
    counts = members.aggregate(total=Count("user_id"), **_LEVEL_COUNTS_MEMBERS)
    return {**counts, "as_of": min(month.end, until).isoformat()}


def departures_in(month: Month, *, until: datetime) -> dict:
    """Members who stopped being senior during the month, as far as the raw events still show.

    Raw events are purged after EVENTS_RETENTION_DAYS, so `known_from` says from when the
    count is complete; before that moment departures are unknown, not zero.
    """
    end = min(month.end, until)
    removed = RawEvent.objects.filter(
        outcome=RawEvent.Outcome.REMOVED, processed_at__gte=month.start, processed_at__lt=end
    )
    oldest = RawEvent.objects.aggregate(oldest=Min("received_at"))["oldest"]
    known_from = month.start if oldest is None or oldest <= month.start else oldest
    return {
        "count": removed.order_by().values("user_id").distinct().count(),
        # In New York time; None: nothing of this month is known (its events were all purged).
        "known_from": known_from.astimezone(local_zone()).isoformat() if known_from < end else None,
        "complete": known_from == month.start,
    }


def breakdown(detections: QuerySet[Detection], field: str, *, limit: int | None = None, label_blank: str = "") -> list:
    """Detections per value of `field`, each with its own total and per-level counts."""
    rows = (
        detections.values(field)
        .annotate(total=Count("id"), **_LEVEL_COUNTS)
        .order_by("-total", Case(When(**{field: ""}, then=1), default=0), field)  # blank last among ties
    )
    if limit:
        rows = rows[:limit]
    return [{**row, field: row[field] or label_blank} for row in rows]


def weekly_counts(month: Month, detections: QuerySet[Detection]) -> list[dict]:
    """Detections per calendar week (Monday to Sunday) of the month, clipped to the month."""
    per_day = dict(
        detections.annotate(day=TruncDate("detected_at", tzinfo=local_zone()))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    )
    weeks, day = [], month.first_day
    while day <= month.last_day:
        last = min(day + timedelta(days=6 - day.weekday()), month.last_day)
        count = sum(n for d, n in per_day.items() if day <= d <= last)
        weeks.append({"start": day.isoformat(), "end": last.isoformat(), "count": count})
        day = last + timedelta(days=1)
    return weeks


def months_needing_report(*, now: datetime, months_back: int) -> list[Month]:
    """Ended months, at most `months_back` back and none before the first detection or
    member, whose report is missing, failed, or does not yet cover the whole month."""
    from .models import Report

    last = Month.of(now).previous()
    earliest = min(
        (
            moment
            for moment in (
                Detection.objects.aggregate(first=Min("detected_at"))["first"],
                SeniorMember.objects.aggregate(first=Min("first_detected_at"))["first"],
            )
            if moment is not None
        ),
        default=None,
    )
    if earliest is None:
        return []
    month = max(Month.of(earliest), _months_before(last, months_back - 1))
    complete = {
        Month.from_date(report.month)
        for report in Report.objects.filter(month__gte=month.first_day, status=Report.Status.READY)
        if report.is_complete
    }
    months = []
    while month <= last:
        if month not in complete:
            months.append(month)
        month = month.next()
    return months


def _months_before(month: Month, count: int) -> Month:
    for _ in range(max(count, 0)):
        month = month.previous()
    return month


# The HTML report shows member-supplied text: even escaped, serve it with nothing allowed to run.
REPORT_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def report_file_response(report, kind: str) -> FileResponse:
    """Stream one of a report's files from storage (local or S3): the admin's and the API's download."""
    field = {"csv": report.csv_file, "html": report.html_file}.get(kind)
    if not field:
        raise Http404("No such file for this report.")
    response = FileResponse(
        field.open("rb"),
        as_attachment=kind == "csv",
        filename=f"captpathfinder-report-{report.month:%Y-%m}.{kind}",
        content_type="text/csv; charset=utf-8" if kind == "csv" else "text/html; charset=utf-8",
    )
    if kind == "html":
        response["Content-Security-Policy"] = REPORT_HTML_CSP
    return response
