"""The member state machine, and the one writer of senior members and detections.

Everything that changes a member goes through `MemberStates`: webhook events (a batch of many
members, or of one), registrations, backfills, reclassification and enrichment. It moves the
members in memory, change by change in the order given, and `save()` writes them in a few bulk
statements. Callers hold the members' processing locks (detections.locks) and the transaction.

The transitions for a title: not senior -> the member is removed if present; a new senior -> a
member and a `first` detection; VP -> C-suite -> a `promotion` detection; any other change (same
level, C-suite -> VP) -> updated, no detection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from classification.models import Level
from classification.services import classify
from core.metrics import DETECTIONS

from ..models import Detection, RawEvent, SeniorMember

Outcome = RawEvent.Outcome

# What a detection copies from its member. The attributes among them follow the member while the
# detection waits for its digest (a name, company or country that changes or arrives later).
SNAPSHOT_FIELDS = ("username", "title", "level", "country", "company", "joined_at", "rules_version")
FOLLOWED_FIELDS = ("username", "country", "company", "joined_at")
ATTRIBUTES = ("country", "company", "joined_at")
# What the writer stores of a member it has seen before; first_detected_at is set once, at creation.
_STORED_FIELDS = [
    "username",
    "title",
    "level",
    "last_seen_at",
    "rules_version",
    "country",
    "company",
    "joined_at",
    "enriched_at",
    "enrichment_error",
]


@dataclass(frozen=True)
class MemberChange:
    """One thing that happened to a member.

    `title` None: no title change (a Country or Company delivery); otherwise the member's new Job
    Title, classified here. `attributes` (country, company, joined_at) are set as given: callers
    leave out what the source did not say. `seen_at`: the member's last_seen_at (None: now).
    """

    user_id: str
    title: str | None = None
    username: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    event: RawEvent | None = None
    seen_at: datetime | None = None


def member_transition(*, old_level: str | None, new_level: str) -> tuple[str, str | None]:
    """(outcome, kind of detection to record or None) for a senior title."""
    if old_level is None:
        return Outcome.CREATED, Detection.Kind.FIRST
    if old_level == Level.VP and new_level == Level.CSUITE:
        return Outcome.PROMOTED, Detection.Kind.PROMOTION
    return Outcome.UPDATED, None


class MemberStates:
    """The members a unit of work touches, loaded together, moved in memory, written together.

    `record_detections` False is a baseline (a backfill that must not announce anyone): members
    move the same way, and no detection is recorded.
    """

    def __init__(self, user_ids: Iterable[str], *, now: datetime, record_detections: bool = True) -> None:
        self.now = now
        self.record_detections = record_detections
        user_ids = set(user_ids)
        self._stored = SeniorMember.objects.in_bulk(list(user_ids))
        self._followed_before = {uid: _followed(m) for uid, m in self._stored.items()}
        self._members: dict[str, SeniorMember | None] = dict.fromkeys(user_ids)
        self._members.update(self._stored)
        self._changed: set[str] = set()
        self._created: set[str] = set()
        self.detections: list[Detection] = []

    def member(self, user_id: str) -> SeniorMember | None:
        """The member as it stands after the changes applied so far (None: not senior)."""
        return self._members[user_id]

    def apply(self, change: MemberChange) -> str:
        """Move one member by one change; returns the outcome (RawEvent.Outcome)."""
        member = self._members[change.user_id]
        if change.title is None:
            if member is None:
                return Outcome.NOT_A_MEMBER
            self._attributes_set(member, change.attributes)
            self._changed.add(change.user_id)
            return Outcome.ATTRIBUTES_UPDATED
        result = classify(change.title)
        if not result.is_senior:
            if member is None:
                return Outcome.NOT_SENIOR
            self._members[change.user_id] = None
            return Outcome.REMOVED
        outcome, kind = member_transition(old_level=member.level if member else None, new_level=result.level)
        if member is None:
            # A new row even for a member removed earlier in the same unit of work.
            member = self._members[change.user_id] = SeniorMember(user_id=change.user_id, first_detected_at=self.now)
            self._created.add(change.user_id)
        member.username = change.username or member.username
        member.title = change.title.strip()
        member.level = result.level
        member.last_seen_at = change.seen_at or self.now
        member.rules_version = result.version
        self._attributes_set(member, change.attributes)
        self._changed.add(change.user_id)
        if kind is not None and self.record_detections:
            self.detections.append(detection_snapshot(member, kind=kind, at=self.now, event=change.event))
        return outcome

    def enrichment_record(self, user_id: str, *, attributes: Mapping[str, Any] | None, error: str = "") -> bool:
        """The community profile's attributes fill what the member lacks; `attributes` None records
        `error` instead. Returns False when the member is no longer senior."""
        member = self._members[user_id]
        if member is None:
            return False
        if attributes is None:
            member.enrichment_error = error[:1000]
        else:
            self._attributes_set(member, {k: v for k, v in attributes.items() if v and not getattr(member, k)})
            member.enriched_at, member.enrichment_error = self.now, ""
        self._changed.add(user_id)
        return True

    @staticmethod
    def _attributes_set(member: SeniorMember, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            if name not in ATTRIBUTES:
                raise ValueError(f"{name!r} is not a member attribute")
            setattr(member, name, value)

    def created_lacking_attributes(self) -> set[str]:
        """New members still without a company or country: worth asking the community about."""
        return {uid for uid in self._created if (m := self._members[uid]) is not None and not (m.country and m.company)}

    def save(self) -> None:
        """Write every member and detection this unit of work changed.

        Deletes first (a member removed and re-created here is a new row), then one upsert for new
        and changed members: bulk_update's CASE per row and field cost the batch worker a third of
        its time. Every writer holds the member lock, so a conflict is one of our own rows.
        """
        members = {uid: m for uid, m in self._members.items() if m is not None}
        gone = [uid for uid, stored in self._stored.items() if self._members[uid] is not stored]
        written = [m for uid, m in members.items() if uid in self._changed or m is not self._stored.get(uid)]
        SeniorMember.objects.filter(pk__in=gone).delete()
        SeniorMember.objects.bulk_create(
            written, batch_size=500, update_conflicts=True, unique_fields=["user_id"], update_fields=_STORED_FIELDS
        )
        for detection in self.detections:  # recorded earlier in this unit of work: as the member is now
            if (member := members.get(detection.user_id)) is not None:
                for name in FOLLOWED_FIELDS:
                    setattr(detection, name, getattr(member, name))
        Detection.objects.bulk_create(self.detections, batch_size=500)
        for detection in self.detections:
            DETECTIONS.labels(kind=detection.kind, level=detection.level).inc()
        _undigested_detections_follow(
            [
                m
                for uid, m in members.items()
                if uid in self._followed_before and _followed(m) != self._followed_before[uid]
            ]
        )


def detection_snapshot(member: SeniorMember, *, kind: str, at: datetime, event: RawEvent | None = None) -> Detection:
    """A detection of `member` as it is now (unsaved): a copy, so it outlives the member."""
    return Detection(
        user_id=member.user_id,
        **{name: getattr(member, name) for name in SNAPSHOT_FIELDS},
        kind=kind,
        detected_at=at,
        event=event,
    )


def _followed(member: SeniorMember) -> tuple:
    return tuple(getattr(member, name) for name in FOLLOWED_FIELDS)


def _undigested_detections_follow(members: list[SeniorMember]) -> None:
    """The members' detections not yet in a digest take their current name, company, country and
    join date: one statement for the lot."""
    if not members:
        return
    columns = {name: [getattr(m, name) for m in members] for name in FOLLOWED_FIELDS}
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE detections_detection AS d SET username = v.username, country = v.country, "
            "company = v.company, joined_at = v.joined_at "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
            "AS v(user_id, username, country, company, joined_at) "
            "WHERE d.user_id = v.user_id AND d.digest_id IS NULL",
            [[m.user_id for m in members], *columns.values()],
        )
