import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Min, QuerySet

from classification.engine import Classification
from classification.models import Function
from classification.services import classify

from .models import MemberPin, PendingEvent, RawEvent, SeniorMember, TrackedField

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


def attributes_latest_sent(*, user_ids: list[str]) -> dict[str, dict[str, str]]:
    """The latest Country and Company each of these people sent, from the applied raw events kept:
    {user_id: {"country": …, "company": …}} (a field they never sent is left out)."""
    if not user_ids:
        return {}
    rows = (
        RawEvent.objects.filter(
            user_id__in=user_ids,
            field_role__in=[TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY],
            processed_at__isnull=False,
        )
        .exclude(outcome=RawEvent.Outcome.FAILED)
        .order_by("user_id", "field_role", "-id")
        .distinct("user_id", "field_role")
        .values_list("user_id", "field_role", "value")
    )
    latest: dict[str, dict[str, str]] = {}
    for user_id, role, value in rows:
        latest.setdefault(user_id, {})[role] = value.strip()
    return latest


def members_set_aside(*, user_ids: set[str]) -> set[str]:
    """Those of these members with failed events: their later events wait behind them."""
    failed = RawEvent.objects.filter(user_id__in=user_ids, outcome=RawEvent.Outcome.FAILED)
    return set(failed.values_list("user_id", flat=True).distinct())


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
    pending = PendingEvent.objects.filter(user_id__in=user_ids).values("event_id")
    return RawEvent.objects.filter(pk__in=pending).order_by("id")


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
    """Members with unprocessed events, the one waiting longest first."""
    rows = PendingEvent.objects.values("user_id").annotate(first=Min("event_id")).order_by("first")[:limit]
    return [row["user_id"] for row in rows]


@dataclass(frozen=True)
class Pin:
    """An operator's correction as processing applies it: the title it holds for, and the decision."""

    title: str
    decision: Classification


# What a corrected member's rules_version says: the level came from a person, not the rules.
CORRECTION_VERSION = "correction"


def member_pins(*, user_ids: list[str]) -> dict[str, Pin]:
    pins = MemberPin.objects.filter(user_id__in=user_ids).values_list("user_id", "title", "level", "function")
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
