"""Load the members who were senior before CaptPathfinder was switched on (or during an outage).

Webhooks only report changes. A backfill reads the whole membership once — from a CSV export
or the community's user API — and moves every member through the same state machine as a
webhook (services.members), a batch at a time. Baseline mode records no detections. Each batch
commits together with the run's position, so an interrupted run resumes after its last committed
batch and applies nothing twice.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dt_time
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from classification.services import classify
from core.dates import RANGE_TEXT, MomentOutOfRange, moment_check
from integrations.insided.client import CommunityClient
from integrations.insided.errors import CommunityError
from integrations.insided.profiles import has_profile_fields, profile_from_user, user_id_of

from ..locks import members_lock
from ..models import BackfillRun, RawEvent
from ..payloads import MAX_NAME_LENGTH, MAX_TITLE_LENGTH, MAX_USER_ID_LENGTH, user_id_problem
from .members import MemberChange, MemberStates

logger = logging.getLogger(__name__)
Mode = BackfillRun.Mode
Outcome = RawEvent.Outcome

CSV_FIELDS = ("user_id", "username", "job_title", "country", "company", "joined_at")
CSV_REQUIRED = ("user_id", "job_title")
MAX_RECORDED_ERRORS = 100


class BackfillSourceError(Exception):
    """The source cannot be read at all (missing column, unreadable file): nothing is loaded."""


@dataclass(frozen=True)
class MemberRow:
    user_id: str
    username: str
    job_title: str
    country: str = ""
    company: str = ""
    joined_at: datetime | None = None


@dataclass(frozen=True)
class RowError:
    where: str  # "line 12" or "page 3, user 42"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


Item = MemberRow | RowError


# --- CSV ----------------------------------------------------------------------------------------


def csv_source_key(path: Path) -> str:
    """The file and its version: a changed file is a new backfill, not a resume."""
    stat = path.stat()
    return f"csv:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def csv_count_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def csv_items(path: Path, *, columns: dict[str, str], skip: int = 0) -> Iterator[Item]:
    """Every data row as a MemberRow or a RowError naming its line; a missing column stops it all."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise BackfillSourceError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [f"{columns[name]!r} (for {name})" for name in CSV_REQUIRED if columns[name] not in header]
        if missing:
            raise BackfillSourceError(
                f"{path.name}: missing column {', '.join(missing)}; the header has: {', '.join(header) or 'nothing'}"
            )
        try:
            for index, raw in enumerate(reader):
                if index >= skip:
                    yield _csv_row(raw, columns, line=reader.line_num)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BackfillSourceError(f"{path.name} near line {reader.line_num}: {exc}") from None


def _csv_row(raw: dict, columns: dict[str, str], *, line: int) -> Item:
    where = f"line {line}"
    if None in raw:
        return RowError(where, f"{len(raw) - 1 + len(raw[None])} fields, the header has {len(raw) - 1}")

    def value(name: str) -> str:
        return (raw.get(columns[name]) or "").strip()

    user_id, title, username = value("user_id"), value("job_title"), value("username")
    if not user_id:
        return RowError(where, "user id is empty")
    if problem := user_id_problem(user_id):
        return RowError(where, f"user id {user_id[:MAX_USER_ID_LENGTH]!r} {problem}")
    if len(title) > MAX_TITLE_LENGTH:
        return RowError(where, f"job title is longer than {MAX_TITLE_LENGTH} characters")
    if len(username) > MAX_NAME_LENGTH:
        return RowError(where, f"username is longer than {MAX_NAME_LENGTH} characters")
    joined_text = value("joined_at")
    try:
        joined_at = _parse_moment(joined_text) if joined_text else None
    except MomentOutOfRange:
        return RowError(where, f"joined_at {joined_text[:40]!r} must be {RANGE_TEXT}")
    if joined_text and joined_at is None:
        return RowError(where, f"joined_at {joined_text[:40]!r} is not a date (YYYY-MM-DD or ISO 8601)")
    return MemberRow(
        user_id=user_id,
        username=username,
        job_title=title,
        country=value("country")[:MAX_NAME_LENGTH],
        company=value("company")[:MAX_NAME_LENGTH],
        joined_at=joined_at,
    )


def _parse_moment(text: str) -> datetime | None:
    """None when it is no date; MomentOutOfRange when out of the service's range (core.dates)."""
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, dt_time())
    except ValueError:
        return None
    return moment_check(moment) if moment is not None else None


# --- Community API ------------------------------------------------------------------------------


def community_source_key(filters: dict[str, str]) -> str:
    return "community:" + "&".join(f"{key}={filters[key]}" for key in sorted(filters))


def community_pages(
    client: CommunityClient, *, filters: dict[str, str], start_page: int, page_size: int
) -> Iterator[tuple[int, list[Item]]]:
    """(page number, its members) for each page of the member list (GET /user), fetching a
    profile one by one where a list entry lacks its profile fields (whether the list includes
    them is not documented). A profile without the configured Job Title field is a row error,
    so a misnamed field shows as errors, not as a community without executives. Transient
    failures are retried by the client (bounded); a page that still fails stops the run, which
    resumes at that page. The client's rate limiter keeps the run polite."""
    for page, users in client.users_pages(filters=filters, page_size=page_size, start_page=start_page):
        items: list[Item] = []
        for user in users:
            user_id = user_id_of(user)
            if user_id is None:
                items.append(RowError(f"page {page}", "a user without a userid"))
                continue
            if problem := user_id_problem(user_id):
                items.append(RowError(f"page {page}", f"userid {user_id[:MAX_USER_ID_LENGTH]!r} {problem}"))
                continue
            try:
                if has_profile_fields(user):
                    profile = profile_from_user(user, user_id=user_id)
                else:
                    profile = client.profile_get(user_id)
            except CommunityError as exc:
                items.append(RowError(f"page {page}, user {user_id}", str(exc)))
                continue
            if profile.job_title is None:
                items.append(RowError(f"page {page}, user {user_id}", profile.missing_text))
                continue
            items.append(
                MemberRow(
                    user_id=user_id[:MAX_USER_ID_LENGTH],
                    username=profile.username[:MAX_NAME_LENGTH],
                    job_title=profile.job_title[:MAX_TITLE_LENGTH],
                    country=profile.country[:MAX_NAME_LENGTH],
                    company=profile.company[:MAX_NAME_LENGTH],
                    joined_at=profile.joined_at,
                )
            )
        yield page, items


# --- Applying ---------------------------------------------------------------------------------


def members_apply_backfill(rows: list[MemberRow], *, mode: str, since: datetime, now: datetime) -> Counter:
    """Apply one batch through the member state machine; the caller holds the transaction.
    Returns what happened, counted.

    A member with a webhook event received since the run started is skipped: that event is
    newer than any export. Duplicated ids in a batch: the last row wins, as in a file.
    """
    counts: Counter = Counter()
    latest = {row.user_id: row for row in rows}
    members_lock(list(latest))
    newer = set(RawEvent.objects.filter(user_id__in=latest, received_at__gte=since).values_list("user_id", flat=True))
    states = MemberStates(latest, now=now, record_detections=mode == Mode.ANNOUNCE)
    for user_id, row in latest.items():
        if user_id in newer or not row.job_title:
            counts["skipped"] += 1
            continue
        attributes = {"country": row.country, "company": row.company, "joined_at": row.joined_at}
        change = MemberChange(
            user_id=user_id,
            title=row.job_title,
            username=row.username,
            attributes={name: value for name, value in attributes.items() if value},
        )
        outcome = states.apply(change)
        if outcome in (Outcome.NOT_SENIOR, Outcome.REMOVED):
            counts["not_senior"] += 1
            if outcome == Outcome.REMOVED:
                counts["removed"] += 1
        else:
            counts[states.member(user_id).level] += 1
            counts[outcome] += 1
    states.save()
    counts["detections"] += len(states.detections)
    return counts


def run_for(*, source: str, source_key: str, mode: str, restart: bool) -> tuple[BackfillRun, bool]:
    """The unfinished run of this source to resume, or a new one. Returns (run, resumed)."""
    unfinished = BackfillRun.objects.filter(source_key=source_key).exclude(status=BackfillRun.Status.DONE).first()
    if unfinished is not None and not restart:
        if unfinished.mode != mode:
            raise BackfillSourceError(
                f"backfill {unfinished.pk} of this source is unfinished in {unfinished.mode} mode: "
                f"resume it with --mode {unfinished.mode}, or start over with --restart"
            )
        unfinished.status = BackfillRun.Status.RUNNING
        unfinished.save(update_fields=["status", "updated_at"])
        return unfinished, True
    if unfinished is not None:
        unfinished.status = BackfillRun.Status.FAILED
        unfinished.last_error = "abandoned by --restart"
        unfinished.save(update_fields=["status", "last_error", "updated_at"])
    return BackfillRun.objects.create(source=source, source_key=source_key, mode=mode), False


def backfill_run(
    *, run: BackfillRun, batches: Iterable[tuple[int, list[Item]]], on_progress: Callable[[int], None] = lambda n: None
) -> BackfillRun:
    """Apply (position after the batch, items) batches; each commits with the run's position."""
    counts = Counter(run.counts)
    try:
        for position, items in batches:
            rows = [item for item in items if isinstance(item, MemberRow)]
            errors = [str(item) for item in items if isinstance(item, RowError)]
            with transaction.atomic():
                batch_counts = members_apply_backfill(rows, mode=run.mode, since=run.started_at, now=timezone.now())
                counts.update(batch_counts)
                counts["read"] += len(items)
                counts["errors"] += len(errors)
                run.errors = (run.errors + errors)[:MAX_RECORDED_ERRORS]
                run.position, run.counts = position, dict(counts)
                run.save(update_fields=["position", "counts", "errors", "updated_at"])
            for error in errors:
                logger.warning("backfill %s: %s", run.pk, error)
            on_progress(len(items))
    except BaseException as exc:  # Ctrl-C included: the run stays resumable at its last batch
        run.status = BackfillRun.Status.RUNNING if isinstance(exc, KeyboardInterrupt) else BackfillRun.Status.FAILED
        run.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
        run.save(update_fields=["status", "last_error", "updated_at"])
        raise
    run.status, run.finished_at = BackfillRun.Status.DONE, timezone.now()
    run.save(update_fields=["status", "finished_at", "updated_at"])
    return run


def csv_batches(items: Iterator[Item], *, start: int, batch_size: int) -> Iterator[tuple[int, list[Item]]]:
    position = start
    while batch := list(islice(items, batch_size)):
        position += len(batch)
        yield position, batch


def dry_run_counts(items: Iterable[Item]) -> Counter:
    """Counts by level without writing anything (not even a run record)."""
    counts: Counter = Counter()
    for item in items:
        counts["read"] += 1
        if isinstance(item, RowError):
            counts["errors"] += 1
        elif not item.job_title:
            counts["skipped"] += 1
        else:
            counts[classify(item.job_title).level or "not_senior"] += 1
    return counts


def csv_columns(overrides: dict[str, str]) -> dict[str, str]:
    unknown = set(overrides) - set(CSV_FIELDS)
    if unknown:
        raise BackfillSourceError(f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(CSV_FIELDS)}")
    return {name: overrides.get(name, name) for name in CSV_FIELDS}
