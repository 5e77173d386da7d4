"""What a digest or alert built now would carry for each audience: one row per member in their
latest state, and what is left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from classification.models import Level
from core.schedules import schedule_next_run
from detections import selectors as detection_selectors
from detections.models import Detection

from . import addresses, rendering
from .matching import AudienceFilter, MemberIndex
from .models import Audience, Receipt

WEEKLY_TASK = "digests.tasks.digest_build_weekly"
# A build looks this far back (by Detection.recorded_at) before its audience's previous build for
# detections it has not received: a row's time is taken when its transaction starts, so one
# committed just after a build can be older than the build. No such transaction lasts near a day.
LATE_COMMIT_MARGIN = timedelta(days=1)
# Alerts are news: a detection recorded longer ago than this is not alerted (an audience paused
# or switched to alerts, a worker down for a day); Friday's digest has it for audiences that get one.
ALERT_LOOKBACK = timedelta(days=1)


class Waiting(NamedTuple):
    """What a build reads of a detection. Plain tuples, not model instances: 10,000 of those kept
    alive through the rendering made each garbage collection pass walk them, which cost a fifth
    of a 10,000-detection build. The snapshot (level, function, country, company) decides the
    audiences of a member no longer senior."""

    id: int
    user_id: str
    kind: str
    detected_at: datetime
    recorded_at: datetime
    level: str
    function: str
    country: str
    company: str


class MemberNow(NamedTuple):
    """What a digest row shows of a senior member, and what audiences filter on."""

    user_id: str
    username: str
    title: str
    level: str
    function: str
    company: str
    country: str
    email_domain: str


def members_now(user_ids: list[str]) -> dict[str, MemberNow]:
    """The senior members among `user_ids`, as they are now (plain tuples: detections.selectors.members_rows)."""
    rows = detection_selectors.members_rows(user_ids=user_ids, fields=MemberNow._fields)
    return {row[0]: MemberNow(*row) for row in rows}


def scan_from(audience: Audience, stream: str, *, now: datetime) -> datetime:
    """The earliest Detection.recorded_at a build for `audience` on `stream` at `now` looks at:
    a margin before its previous build on that stream, else its start; never more than
    ALERT_LOOKBACK back for alerts. (A detection is also made at or after the audience's start.)"""
    scanned = audience.digest_scanned_from if stream == Receipt.Stream.DIGEST else audience.alert_scanned_from
    since = max(audience.starts_at, scanned) if scanned else audience.starts_at
    return max(since, now - ALERT_LOOKBACK) if stream == Receipt.Stream.ALERT else since


@dataclass
class Candidates:
    """The detections any of a build's audiences may take, with their members, read once for all of
    them; rendered rows are kept so a member's row is rendered once however many audiences get it."""

    by_member: dict[str, list[Waiting]]
    members: dict[str, MemberNow]
    since: datetime | None  # the earliest recorded_at read
    entries: dict[tuple, rendering.Entry] = field(default_factory=dict)

    @cached_property
    def index(self) -> MemberIndex:
        return MemberIndex.of(self.members.values())

    @cached_property
    def earliest(self) -> tuple[datetime, datetime] | None:
        """The earliest detected_at and recorded_at among the candidates."""
        detections = [d for group in self.by_member.values() for d in group]
        if not detections:
            return None
        return min(d.detected_at for d in detections), min(d.recorded_at for d in detections)

    @property
    def detection_ids(self) -> list[int]:
        return [d.id for group in self.by_member.values() for d in group]

    def entry(self, member: MemberNow, group: list[Waiting]) -> rendering.Entry:
        key = (member, tuple(d.id for d in group))
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = rendering.entry_for_member(member, group)
        return entry


def candidates_read(audiences: list[Audience], stream: str, *, until: datetime) -> Candidates:
    """Detections recorded from the earliest `scan_from` of `audiences` and made by `until`,
    oldest first (a digest's order), grouped by member, and those members as they are now."""
    by_member: dict[str, list[Waiting]] = {}
    since = min((scan_from(audience, stream, now=until) for audience in audiences), default=None)
    if since is not None:
        queryset = Detection.objects.filter(recorded_at__gte=since, detected_at__lte=until)
        for row in queryset.order_by("detected_at", "id").values_list(*Waiting._fields):
            detection = Waiting(*row)
            by_member.setdefault(detection.user_id, []).append(detection)
    return Candidates(by_member, members_now(list(by_member)) if by_member else {}, since)


def received(audience: Audience, stream: str, *, since: datetime) -> set[int]:
    """The detections recorded since `since` that `audience` already has a receipt for on `stream`."""
    return set(
        Receipt.objects.filter(audience=audience, stream=stream, detection__recorded_at__gte=since).values_list(
            "detection_id", flat=True
        )
    )


@dataclass
class Row:
    entry: rendering.Entry
    detections: list[Waiting]


@dataclass
class Composition:
    rows: list[Row] = field(default_factory=list)
    left_out: dict[int, str] = field(default_factory=dict)  # detection id → Receipt.LeftOut

    @property
    def detection_ids(self) -> list[int]:
        return [d.id for row in self.rows for d in row.detections]


def rows_compose(
    candidates: Candidates, audience: Audience, stream: str, *, taken: set[int], now: datetime
) -> Composition:
    """What `audience` gets on `stream` of the candidates: one row per member, from the member as
    they are now, of the detections it has not `taken` and its filter matches.

    A member no longer senior is left out (if their detection's snapshot matched the filter; a later
    re-detection is a new detection, for the next digest); a member with only a promotion who is back
    to VP is left out too (they went out as VP before). A VP → C-suite promotion in the same digest
    as the first detection is one row, "VP → C-suite". Rows keep the order of each member's oldest
    detection.
    """
    audience_filter, since, start = (
        AudienceFilter.of(audience),
        scan_from(audience, stream, now=now),
        audience.starts_at,
    )
    # Most audiences take every candidate of the members they match: no copy of the list then.
    earliest = candidates.earliest
    whole = (
        not taken
        and not audience_filter.kinds
        and earliest is not None
        and start <= earliest[0]
        and since <= earliest[1]
    )
    # None: every member (the index is built only when some audience filters members).
    matching = audience_filter.members_matching(candidates.index) if audience_filter.filters_members else None
    composition = Composition()
    for user_id, detections in candidates.by_member.items():
        member = candidates.members.get(user_id)
        if member is not None and matching is not None and user_id not in matching:
            continue
        if whole:
            group = detections
        else:
            group = [
                d
                for d in audience_filter.detections(detections)
                if d.recorded_at >= since and d.detected_at >= start and d.id not in taken
            ]
            if not group:
                continue
        if member is None:
            if audience_filter.member_matches(group[-1]):
                composition.left_out.update(dict.fromkeys((d.id for d in group), Receipt.LeftOut.NOT_SENIOR))
        elif member.level != Level.CSUITE and all(d.kind == Detection.Kind.PROMOTION for d in group):
            composition.left_out.update(dict.fromkeys((d.id for d in group), Receipt.LeftOut.NOT_CSUITE))
        else:
            composition.rows.append(Row(candidates.entry(member, group), group))
    composition.rows.sort(key=lambda row: (row.detections[0].detected_at, row.detections[0].id))
    return composition


def weekly_build_next_run(*, now: datetime) -> datetime | None:
    """When Friday's build next runs, as beat has it (None: an operator paused it)."""
    return schedule_next_run(WEEKLY_TASK, now=now)


@dataclass
class AudiencePlan:
    """What one audience would get if a digest were built now, and where it would go."""

    audience: Audience
    composition: Composition
    recipients: dict[str, str]  # channel label → where it goes (a webhook shown by its host only)


@dataclass
class Plan:
    """What an operator is asked to confirm before sending extra digests now."""

    audiences: list[AudiencePlan]
    next_weekly_at: datetime | None

    @property
    def detection_ids(self) -> set[int]:
        return {pk for plan in self.audiences for pk in plan.composition.detection_ids}


def audience_recipients(audience: Audience) -> dict[str, str]:
    return {
        channel: addresses.address_text(
            channel,
            addresses.audience_address(audience, channel),
            missing=addresses.missing_text(audience, channel),
        )
        for channel in addresses.audience_channels(audience)
    }


def digest_plan(*, now: datetime, audiences: list[Audience] | None = None) -> Plan:
    """What each weekly audience (or each of `audiences`) would get in a digest built now."""
    if audiences is None:
        audiences = list(Audience.objects.receiving(Receipt.Stream.DIGEST))
    candidates = candidates_read(audiences, Receipt.Stream.DIGEST, until=now)
    plans = []
    for audience in audiences:
        taken = received(audience, Receipt.Stream.DIGEST, since=scan_from(audience, Receipt.Stream.DIGEST, now=now))
        composition = rows_compose(candidates, audience, Receipt.Stream.DIGEST, taken=taken, now=now)
        plans.append(AudiencePlan(audience, composition, audience_recipients(audience)))
    return Plan(plans, weekly_build_next_run(now=now))


def detections_waiting(*, now: datetime) -> list[int]:
    """Detections some weekly audience would get in a digest built now (the confirmation pages
    and the API say how many wait for Friday)."""
    return sorted(digest_plan(now=now).detection_ids)


def detections_named(detection_ids) -> list[Detection]:
    """Whose each detection is and its title, by id (to name what a build would leave out)."""
    return list(Detection.objects.filter(pk__in=detection_ids).only("user_id", "username", "title").order_by("pk"))
