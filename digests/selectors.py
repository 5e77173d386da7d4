"""What a digest built now would carry: one row per member in their latest state, and what is left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from classification.models import Level
from core.schedules import schedule_next_run
from detections.models import Detection

from . import rendering

WEEKLY_TASK = "digests.tasks.digest_build_weekly"


@dataclass
class Row:
    entry: rendering.Entry
    detections: list[Waiting]


@dataclass
class Composition:
    rows: list[Row] = field(default_factory=list)
    left_out: dict[int, str] = field(default_factory=dict)  # detection id → Detection.LeftOut

    @property
    def detection_ids(self) -> list[int]:
        return [d.id for row in self.rows for d in row.detections]


class MemberNow(NamedTuple):
    """What a digest row shows of a senior member."""

    user_id: str
    username: str
    title: str
    level: str
    company: str
    country: str


def members_now(user_ids: list[str]) -> dict[str, MemberNow]:
    """The senior members among `user_ids`, as they are now. One `= ANY(array)` query with plain
    tuples: model instances with every timestamp, and an IN list of 10,000 parameters, were
    most of a 10,000-detection build."""
    fields = ", ".join(MemberNow._fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fields} FROM detections_seniormember WHERE user_id = ANY(%s)", [user_ids])  # noqa: S608
        return {row[0]: MemberNow(*row) for row in cursor.fetchall()}


class Waiting(NamedTuple):
    """What a build reads of a waiting detection. Plain tuples, not model instances: 10,000 of
    those kept alive through the rendering made each garbage collection pass walk them, which
    cost a fifth of a 10,000-detection build."""

    id: int
    user_id: str
    kind: str
    detected_at: datetime


def detections_waiting(*, until: datetime, lock: bool = False) -> list[Waiting]:
    """Detections waiting for a digest and made by `until`, oldest first (a digest's order);
    with `lock`, locked until the transaction ends (a build takes them)."""
    queryset = Detection.objects.waiting().filter(detected_at__lte=until).order_by("detected_at", "id")
    if lock:
        queryset = queryset.select_for_update()
    return [Waiting(*row) for row in queryset.values_list(*Waiting._fields)]


def rows_compose(detections: list[Waiting]) -> Composition:
    """Group waiting detections by member, one row each from the member as they are now.

    A member no longer senior is left out (a later re-detection is a new detection, for the
    next digest); a member with only a promotion who is back to VP is left out too (they went
    out as VP before). A VP → C-suite promotion in the same digest as the first detection is
    one row, "VP → C-suite". Rows keep the order of each member's oldest detection.
    """
    by_member: dict[str, list[Waiting]] = {}
    for detection in detections:
        by_member.setdefault(detection.user_id, []).append(detection)
    members = members_now(list(by_member))
    composition = Composition()
    for user_id, group in by_member.items():
        member = members.get(user_id)
        if member is None:
            reason = Detection.LeftOut.NOT_SENIOR
        elif member.level != Level.CSUITE and all(d.kind == Detection.Kind.PROMOTION for d in group):
            reason = Detection.LeftOut.NOT_CSUITE
        else:
            composition.rows.append(Row(rendering.entry_for_member(member, group), group))
            continue
        composition.left_out.update(dict.fromkeys((d.id for d in group), reason))
    return composition


def weekly_build_next_run(*, now: datetime) -> datetime | None:
    """When Friday's build next runs, as beat has it (None: an operator paused it)."""
    return schedule_next_run(WEEKLY_TASK, now=now)


@dataclass
class Plan:
    """What an operator is asked to confirm before sending an extra digest now."""

    composition: Composition
    recipients: dict[str, str]  # channel label → where it goes (a webhook shown by its host only)
    next_weekly_at: datetime | None


def digest_plan(*, now: datetime) -> Plan:
    composition = rows_compose(detections_waiting(until=now))
    recipients = {
        channel: rendering.address_text(channel, rendering.channel_address(channel))
        for channel in rendering.channels_enabled()
    }
    return Plan(composition, recipients, weekly_build_next_run(now=now))
