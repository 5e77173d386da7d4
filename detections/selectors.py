import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from classification.engine import Classification
from classification.models import Function
from classification.services import classify

from .models import Detection, MemberPin, PendingEvent, RawEvent, SeniorMember, TrackedField

_TRACKED_FIELDS_TTL_SECONDS = 30.0
_tracked_fields_cache: tuple[float, dict[str, str]] | None = None


def tracked_field_role(*, name: str) -> str | None:
    """The role of an active tracked field by its (case-insensitive) name, or None.

    Read on every webhook, so it is cached in-process for a short time; changes made in the
    admin take effect within _TRACKED_FIELDS_TTL_SECONDS everywhere, at once in this process.
    """
    global _tracked_fields_cache
    now = time.monotonic()
    if _tracked_fields_cache is None or now - _tracked_fields_cache[0] > _TRACKED_FIELDS_TTL_SECONDS:
        roles = {f.name.casefold(): f.role for f in TrackedField.objects.filter(is_active=True)}
        _tracked_fields_cache = (now, roles)
    return _tracked_fields_cache[1].get(name.strip().casefold())


def tracked_fields_cache_clear() -> None:
    global _tracked_fields_cache
    _tracked_fields_cache = None


# The batch worker's look-ups below are written so that their plan does not depend on the tables'
# statistics: one index probe per member, driven by the array of user ids. A fresh installation
# hit by a burst has no statistics until autovacuum's first analyze; the planner then took
# sequential scans of every raw event, parallel workers included, for each batch (a third of the
# database's CPU per webhook in `make bench`).


def attributes_latest_sent(*, user_ids: list[str]) -> dict[str, dict[str, str]]:
    """The latest Country and Company each of these people sent, from the applied raw events kept:
    {user_id: {"country": …, "company": …}} (a field they never sent is left out)."""
    if not user_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.user_id, latest.field_role, latest.value FROM unnest(%s::text[]) AS u(user_id) "
            "CROSS JOIN LATERAL (SELECT DISTINCT ON (e.field_role) e.field_role, e.value "
            "FROM detections_rawevent e WHERE e.user_id = u.user_id AND e.field_role = ANY(%s::text[]) "
            "AND e.processed_at IS NOT NULL AND e.outcome <> %s ORDER BY e.field_role, e.id DESC) AS latest",
            [list(user_ids), [TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY], RawEvent.Outcome.FAILED],
        )
        rows = cursor.fetchall()
    latest: dict[str, dict[str, str]] = {}
    for user_id, role, value in rows:
        latest.setdefault(user_id, {})[role] = value.strip()
    return latest


def members_set_aside(*, user_ids: set[str]) -> set[str]:
    """Those of these members with failed events: their later events wait behind them."""
    if not user_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            # LIMIT keeps the probe per member: as EXISTS, it was planned as one scan of every
            # raw event for the (rare) failed ones.
            "SELECT u.user_id FROM unnest(%s::text[]) AS u(user_id) CROSS JOIN LATERAL "
            "(SELECT FROM detections_rawevent e WHERE e.user_id = u.user_id AND e.outcome = %s LIMIT 1) AS failed",
            [list(user_ids), RawEvent.Outcome.FAILED],
        )
        return {user_id for (user_id,) in cursor.fetchall()}


def members_rows(*, user_ids: list[str], fields: Sequence[str]) -> list[tuple]:
    """These `fields` (columns) of the senior members among `user_ids`, as plain tuples, for
    digests' builds. One `= ANY(array)` query with plain tuples: model instances with every
    timestamp, and an IN list of 10,000 parameters, were most of a 10,000-detection build."""
    columns = {f.column for f in SeniorMember._meta.concrete_fields}
    if unknown := [name for name in fields if name not in columns]:
        raise ValueError(f"not columns of a senior member: {unknown}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(fields)} FROM detections_seniormember WHERE user_id = ANY(%s)",  # noqa: S608 (checked above)
            [list(user_ids)],
        )
        return cursor.fetchall()


def member_exists(*, user_id: str) -> bool:
    return SeniorMember.objects.filter(pk=user_id).exists()


def events_pending_for_members(*, user_ids: list[str]) -> QuerySet[RawEvent]:
    """The members' unprocessed events, in id order (the order they are applied in)."""
    # The ids first, then the events by primary key: as one query with a subquery, a burst on a
    # table without statistics was planned as a hash join over every raw event.
    if not user_ids:
        return RawEvent.objects.none()
    pending = list(PendingEvent.objects.filter(user_id__any=user_ids).values_list("event_id", flat=True))
    if not pending:
        return RawEvent.objects.none()
    return RawEvent.objects.filter(pk__any=pending).order_by("id")


def members_with_stale_events(*, received_before: datetime, limit: int) -> list[str]:
    """Members whose events are still unprocessed past the threshold, oldest first."""
    rows = (
        PendingEvent.objects.filter(received_at__lt=received_before)
        .values("user_id")
        .annotate(oldest=Min("received_at"))
        .order_by("oldest")[:limit]
    )
    return [row["user_id"] for row in rows]


def members_with_pending_events(*, limit: int) -> list[str]:
    """Members with unprocessed events, the one waiting longest first; not those whose registration
    awaits the community (the outbox sweep's): being the oldest, they would fill every batch."""
    rows = (
        PendingEvent.objects.values("user_id")
        .annotate(first=Min("event_id"), awaiting=Max("awaiting_community_since"))
        .filter(awaiting__isnull=True)
        .order_by("first")[:limit]
    )
    return [row["user_id"] for row in rows]


@dataclass(frozen=True)
class Pin:
    """An operator's correction as processing applies it: the title it holds for, and the decision."""

    title: str
    decision: Classification


# What a corrected member's rules_version says: the level came from a person, not the rules.
CORRECTION_VERSION = "correction"


def member_pins(*, user_ids: list[str]) -> dict[str, Pin]:
    pins = MemberPin.objects.filter(user_id__any=user_ids).values_list("user_id", "title", "level", "function")
    return {
        user_id: Pin(title, pin_decision(title=title, level=level, function=function))
        for user_id, title, level, function in pins
    }


def pin_decision(*, title: str, level: str, function: str) -> Classification:
    """A correction's decision: its level ("none": not senior, so no function), and its function;
    a blank one is what the rules read in the title (they may change), `other` when they read none
    (a title they do not count as senior)."""
    if level == MemberPin.Level.NONE:
        return Classification(None, "correction", CORRECTION_VERSION, None)
    function = function or classify(title).function or Function.OTHER
    return Classification(level, "correction", CORRECTION_VERSION, function)


@dataclass(frozen=True)
class Destination:
    """Where one detection went for one audience and stream: the digest or alert that carried it
    (with its deliveries: id, channel, status), or why it was left out."""

    audience: str
    stream: str
    digest_id: int | None
    digest_date: date | None
    left_out: str  # the reason's label, when left out
    deliveries: tuple[tuple[int, str, str], ...]

    @property
    def statuses(self) -> str:
        """'sent', 'pending, sent': what its deliveries are, for a line of text."""
        return ", ".join(sorted({status for _, _, status in self.deliveries}))


def _related(model, path: str):
    """The model at the end of a relation path from `model`: another app's, reached through the
    relation it declares on ours (detections imports none of it)."""
    for relation in path.split("__"):
        model = model._meta.get_field(relation).related_model
    return model


def _labels(model, path: str) -> dict[str, str]:
    """The choices' labels of the field at the end of a relation path from `model`."""
    *relations, name = path.split("__")
    model = _related(model, "__".join(relations)) if relations else model
    return {str(value): str(label) for value, label in model._meta.get_field(name).flatchoices}


def detections_destinations(*, detection_ids: Sequence[int]) -> dict[int, list[Destination]]:
    """Where each of these detections went, for the admin: {detection id: [Destination]}, by audience.

    Digests' receipts and deliveries are read through the relations digests declares on
    Detection (detections may not import digests), as plain values: a delivery's rendered content
    is never loaded. Two queries, whatever the number of detections."""
    if not detection_ids:
        return {}
    receipts = (
        Detection.objects.filter(pk__in=list(detection_ids))
        .values_list(
            "pk",
            "receipts__audience__name",
            "receipts__stream",
            "receipts__digest_id",
            "receipts__digest__built_at",
            "receipts__digest__week_ending",
            "receipts__left_out",
        )
        .order_by("pk", "receipts__audience__name", "receipts__stream")
    )
    rows = [row for row in receipts if row[1] is not None]  # a detection no audience took: one empty row
    digest_ids = {row[3] for row in rows if row[3] is not None}
    deliveries: dict[int, list[tuple[int, str, str]]] = {}
    if digest_ids:
        carried = (
            _related(Detection, "receipts__digest__deliveries")
            .objects.filter(digest_id__in=digest_ids)
            .values_list("digest_id", "id", "channel", "status")
            .order_by("digest_id", "id")
        )
        for digest_id, delivery_id, channel, status in carried:
            deliveries.setdefault(digest_id, []).append((delivery_id, channel, status))
    why = _labels(Detection, "receipts__left_out")
    shown: dict[int, list[Destination]] = {}
    for pk, audience, stream, digest_id, built_at, week_ending, left_out in rows:
        when = timezone.localdate(built_at) if built_at else week_ending
        shown.setdefault(pk, []).append(
            Destination(
                audience=audience,
                stream=stream,
                digest_id=digest_id,
                digest_date=when,
                left_out=why.get(left_out, left_out) if left_out else "",
                deliveries=tuple(deliveries.get(digest_id, ())),
            )
        )
    return shown


def member_detections(*, user_id: str, limit: int = 20) -> list[Detection]:
    """A member's latest detections (their history: kept after they stop being senior)."""
    return list(Detection.objects.filter(user_id=user_id).order_by("-detected_at", "-pk")[:limit])


def companies_known(*, term: str, limit: int = 20) -> list[str]:
    """Senior members' company names and email domains that contain `term` (case ignored), sorted:
    what an audience's company filter would match today, suggested as an operator types."""
    term = term.strip()
    members = SeniorMember.objects.all()
    names = members.exclude(company="").filter(company__icontains=term).values_list("company", flat=True)
    domains = members.exclude(email_domain="").filter(email_domain__icontains=term).values_list("email_domain")
    return list(names.union(domains).order_by("company")[:limit])
