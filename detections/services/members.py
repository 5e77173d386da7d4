"""The member state machine, and the one writer of senior members and detections.

Everything that changes a member goes through `MemberStates`: webhook events (a batch of many
members, or of one), registrations, backfills, reclassification and enrichment. It moves the
members in memory, change by change in the order given, and `save()` writes them in a few bulk
statements. Callers hold the members' processing locks (detections.locks) and the transaction.

The transitions for a title: not senior -> the member is removed if present; a new senior -> a
member and a `first` detection; VP -> C-suite -> a `promotion` detection; any other change (same
level, C-suite -> VP, a change of function alone) -> updated, no detection. The function (what the
executive runs) is taken with the level, from the rules or an operator's pin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db import connection

from classification.models import Level
from classification.services import classify
from core.metrics import DETECTIONS

from .. import selectors
from ..models import Detection, MemberPin, RawEvent, SeniorMember
from . import writeback

Outcome = RawEvent.Outcome

# What a detection copies from its member. The attributes among them follow the member while the
# detection waits for its digest (a name, company or country that changes or arrives later).
SNAPSHOT_FIELDS = ("username", "title", "level", "function", "country", "company", "joined_at", "rules_version")
FOLLOWED_FIELDS = ("username", "country", "company", "joined_at")
# What the writer stores of a member it has seen before; first_detected_at is set once, at creation.
_STORED_FIELDS = [
    "username",
    "title",
    "level",
    "function",
    "last_seen_at",
    "rules_version",
    "country",
    "company",
    "joined_at",
    "email_domain",
    "enriched_at",
    "enrichment_error",
]


@dataclass(frozen=True)
class MemberChange:
    """One thing that happened to a member.

    `title` None: no title change (a Country or Company delivery); otherwise the member's new Job
    Title, classified here. `attributes` (country, company, joined_at) are set as given: callers
    leave out what the source did not say. `at`: when it happened, as far as we know (a webhook's
    arrival), which dates the member and its detection (None: now). `seen_at`: the member's
    last_seen_at, when it is not `at` (reclassification keeps it).
    """

    user_id: str
    title: str | None = None
    username: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    event: RawEvent | None = None
    at: datetime | None = None
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

    A detection shows its person's latest name, company, country and join date until a digest
    takes it: whatever a member of that user id takes while senior is copied onto every detection
    of theirs still waiting for a digest, in the order it happens (enrichment did this alone
    before). A Country or Company that arrives while they are not senior is kept in the raw events
    only: a member created later starts from the latest ones sent before it (a profile save sends
    its fields one by one, the title not necessarily first).
    """

    def __init__(self, user_ids: Iterable[str], *, now: datetime, record_detections: bool = True) -> None:
        self.now = now
        self.record_detections = record_detections
        user_ids = set(user_ids)
        self._stored = {m.pk: m for m in SeniorMember.objects.filter(pk__any=user_ids).order_by()}
        self._stored_levels = {uid: m.level for uid, m in self._stored.items()}  # members are moved in place
        self._members: dict[str, SeniorMember | None] = dict.fromkeys(user_ids)
        self._members.update(self._stored)
        self._changed: set[str] = set()
        self._created: set[str] = set()
        self.detections: list[Detection] = []
        self._detections_of: dict[str, list[Detection]] = {}
        self._followed: dict[str, dict[str, Any]] = {}  # per member: the latest value of each followed field set
        # Per person: the latest Country and Company they sent, for a member made later. Read for
        # those not senior now; for a member removed and made again here, when that happens.
        self._sent_read = user_ids - set(self._stored)
        self._sent = selectors.attributes_latest_sent(user_ids=list(self._sent_read))
        # Operators' corrections (MemberPin): applied while the title stays; the first change ends one.
        self._pins = selectors.member_pins(user_ids=list(user_ids))
        self._unpinned: set[str] = set()

    def member(self, user_id: str) -> SeniorMember | None:
        """The member as it stands after the changes applied so far (None: not senior)."""
        return self._members[user_id]

    def apply(self, change: MemberChange) -> str:
        """Move one member by one change; returns the outcome (RawEvent.Outcome)."""
        member = self._members[change.user_id]
        when = change.at or self.now
        if change.title is None:
            self._sent.setdefault(change.user_id, {}).update(change.attributes)
            if member is None:
                return Outcome.NOT_A_MEMBER
            self._set(member, change.attributes)
            return Outcome.ATTRIBUTES_UPDATED
        result = self._classified(change.user_id, change.title)
        if not result.is_senior:
            if member is None:
                return Outcome.NOT_SENIOR
            self._members[change.user_id] = None
            return Outcome.REMOVED
        outcome, kind = member_transition(old_level=member.level if member else None, new_level=result.level)
        if member is None:
            # A new row even for a member removed earlier in the same unit of work.
            if change.user_id not in self._sent_read:  # sent before this unit of work, then in it
                earlier = selectors.attributes_latest_sent(user_ids=[change.user_id]).get(change.user_id, {})
                self._sent[change.user_id] = {**earlier, **self._sent.get(change.user_id, {})}
                self._sent_read.add(change.user_id)
            member = SeniorMember(user_id=change.user_id, first_detected_at=when, **self._sent.get(change.user_id, {}))
            self._members[change.user_id] = member
            self._created.add(change.user_id)
        member.title = change.title.strip()
        member.level = result.level
        member.function = result.function
        member.last_seen_at = change.seen_at or when
        member.rules_version = result.version
        if change.username and change.username != member.username:  # it comes with every title
            self._set(member, {"username": change.username})
        self._set(member, change.attributes)
        if kind is not None and self.record_detections:
            detection = detection_snapshot(member, kind=kind, at=when, event=change.event)
            self.detections.append(detection)
            self._detections_of.setdefault(member.user_id, []).append(detection)
        return outcome

    def _classified(self, user_id: str, title: str):
        """The rules' decision on `title`, or an operator's pin while the title is the one pinned."""
        pin = self._pins.get(user_id)
        if pin is not None and pin.title == title.strip():
            return pin.decision
        if pin is not None:  # a new title: the correction was for the old one
            del self._pins[user_id]
            self._unpinned.add(user_id)
        return classify(title)

    def enrichment_record(self, user_id: str, *, attributes: Mapping[str, Any] | None, error: str = "") -> bool:
        """The community profile's attributes fill what the member lacks and `error` (what could not
        be had: the profile, or some of its fields) is recorded; `attributes` None: no profile.
        Returns False when the member is no longer senior."""
        member = self._members[user_id]
        if member is None:
            return False
        if attributes is not None:
            self._set(member, {k: v for k, v in attributes.items() if v and not getattr(member, k)})
            member.enriched_at = self.now
        member.enrichment_error = error[:1000]
        self._changed.add(user_id)
        return True

    def _set(self, member: SeniorMember, values: Mapping[str, Any]) -> None:
        """Set attributes (or the username) on a member, and on its detections waiting for a digest."""
        for name, value in values.items():
            if name == "email_domain":  # the member's alone (audiences match it): detections keep no email
                member.email_domain = value
                continue
            if name not in FOLLOWED_FIELDS:
                raise ValueError(f"{name!r} is not a member attribute")
            setattr(member, name, value)
            self._followed.setdefault(member.user_id, {})[name] = value
            for detection in self._detections_of.get(member.user_id, ()):
                setattr(detection, name, value)
        self._changed.add(member.user_id)

    def created_lacking_attributes(self) -> set[str]:
        """New members still without a company, a country or an email domain (audiences match on it):
        worth asking the community about."""
        return {
            uid
            for uid in self._created
            if (m := self._members[uid]) is not None and not (m.country and m.company and m.email_domain)
        }

    def save(self) -> None:
        """Write every member and detection this unit of work changed.

        Deletes first (a member removed and re-created here is a new row), then one upsert for new
        and changed members (`_members_upsert`). Every writer holds the member lock, so a conflict
        is one of our own rows. The detections stored before this unit take what their members took
        in it before the new ones are inserted, which have it already.
        """
        members = {uid: m for uid, m in self._members.items() if m is not None}
        gone = [uid for uid, stored in self._stored.items() if self._members[uid] is not stored]
        written = [m for uid, m in members.items() if uid in self._changed or m is not self._stored.get(uid)]
        if gone:
            SeniorMember.objects.filter(pk__any=gone).delete()
        _members_upsert(written)
        _undigested_detections_follow(self._followed)
        _detections_insert(self.detections)
        if self._unpinned:
            MemberPin.objects.filter(user_id__in=self._unpinned).delete()
        self._holdings_save()
        for detection in self.detections:
            DETECTIONS.labels(kind=detection.kind, level=detection.level).inc()

    def _holdings_save(self) -> None:
        """Ask the community write-back (when it is on) for the members whose role and badge change:
        become senior, stopped, or moved into or out of COMMUNITY_WRITEBACK_LEVELS."""
        if not writeback.writeback_targets():
            return
        changed = {}
        for uid, member in self._members.items():
            level = member.level if member is not None else None
            if writeback.level_holds(level) != writeback.level_holds(self._stored_levels.get(uid)):
                changed[uid] = level
        writeback.members_holding_set(changed, now=self.now)


def _unnest_select(column_types: dict[str, str]) -> str:
    """`SELECT * FROM unnest(…)` over one array parameter per column, each cast to its type."""
    return f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for kind in column_types.values())})"  # noqa: S608 (the module's constants)


def _unnest_columns(objects: list, values_of: Callable, column_types: dict[str, str]) -> list[list]:
    """The arrays `_unnest_select` takes: one list per column, text columns as plain str (a
    choice's value), NULLs kept."""
    columns = [list(column) for column in zip(*map(values_of, objects), strict=True)]
    for index, kind in enumerate(column_types.values()):
        if kind == "text":
            columns[index] = [None if value is None else str(value) for value in columns[index]]
    return columns


# Every column of a member row, with the type its array is passed as (varchar columns take text).
_COLUMN_TYPES = {
    "user_id": "text",
    "first_detected_at": "timestamptz",
    "username": "text",
    "title": "text",
    "level": "text",
    "function": "text",
    "last_seen_at": "timestamptz",
    "rules_version": "text",
    "country": "text",
    "company": "text",
    "joined_at": "timestamptz",
    "email_domain": "text",
    "enriched_at": "timestamptz",
    "enrichment_error": "text",
}
_MEMBER_UPSERT = (
    f"INSERT INTO detections_seniormember ({', '.join(_COLUMN_TYPES)}) "  # noqa: S608 (constants)
    f"{_unnest_select(_COLUMN_TYPES)} "
    f"ON CONFLICT (user_id) DO UPDATE SET {', '.join(f'{name} = EXCLUDED.{name}' for name in _STORED_FIELDS)}"
)
_member_values = attrgetter(*_COLUMN_TYPES)


def _members_upsert(members: list[SeniorMember]) -> None:
    """Insert these members, or overwrite the stored fields of those stored (first_detected_at
    stays): one statement with an array per column. bulk_create(update_conflicts=True) compiled
    a placeholder per row and field, a third of the batch worker's Python per webhook."""
    if not members:
        return
    with connection.cursor() as cursor:
        cursor.execute(_MEMBER_UPSERT, _unnest_columns(members, _member_values, _COLUMN_TYPES))


_DETECTION_COLUMN_TYPES = {
    "user_id": "text",
    "username": "text",
    "title": "text",
    "level": "text",
    "function": "text",
    "country": "text",
    "company": "text",
    "joined_at": "timestamptz",
    "kind": "text",
    "detected_at": "timestamptz",
    "rules_version": "text",
    "event_id": "bigint",
}
_DETECTION_INSERT = (
    f"INSERT INTO detections_detection ({', '.join(_DETECTION_COLUMN_TYPES)}) "  # noqa: S608 (constants)
    f"{_unnest_select(_DETECTION_COLUMN_TYPES)}"
)
_detection_values = attrgetter(*_DETECTION_COLUMN_TYPES)


def _detections_insert(detections: list[Detection]) -> None:
    """Insert new detections (recorded_at is the database's now): one statement with an array per
    column, as `_members_upsert`. bulk_create compiled a placeholder per row and field, a tenth of
    the batch worker's CPU. Their ids are not read back: nothing after the batch needs them."""
    if not detections:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DETECTION_INSERT, _unnest_columns(detections, _detection_values, _DETECTION_COLUMN_TYPES))


def detection_snapshot(member: SeniorMember, *, kind: str, at: datetime, event: RawEvent | None = None) -> Detection:
    """A detection of `member` as it is now (unsaved): a copy, so it outlives the member."""
    return Detection(
        user_id=member.user_id,
        **{name: getattr(member, name) for name in SNAPSHOT_FIELDS},
        kind=kind,
        detected_at=at,
        event=event,
    )


def detections_freeze(*, detection_ids: list[int], at: datetime) -> None:
    """Mark these detections taken by an audience (a digest or alert carried them, or a build left
    them out): their snapshot stops following the member. Called by digests' build, in the
    transaction that writes its receipts, so a build that rolls back freezes nothing.

    Why a column of ours and not the follow reading digests' receipts: detections is below digests
    (it imports none of it) and each app owns its tables; digests tells us through this service
    instead, and the follow stays in the one writer of detections, where every member change is
    applied in order. Moving the follow to digests would have digests rewrite detections' rows on
    every member change, or hook into this writer from above. A detection stays taken when its
    receipts leave with an audience deleted later: what was sent was sent.

    Rows are locked in id order, so builds running at once cannot deadlock; one already frozen is
    not rewritten (the first build's moment stays). The follow update skips rows locked here.
    """
    if not detection_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH taken AS (SELECT id FROM detections_detection WHERE id = ANY(%s) AND frozen_at IS NULL "
            "ORDER BY id FOR UPDATE) "
            "UPDATE detections_detection AS d SET frozen_at = %s FROM taken WHERE d.id = taken.id",
            [list(detection_ids), at],
        )


def _undigested_detections_follow(followed: dict[str, dict[str, Any]]) -> None:
    """Each member's detections no audience has taken yet (frozen_at, set by digests through
    `detections_freeze`), recorded in the last eight days (a week's digest and a day: one no
    audience matches is not followed for ever), take the values it took: one statement for the lot
    (a field a member did not take is passed as NULL and left as it is).

    Rows that already match are not rewritten. Rows locked by someone else are skipped: they are
    being written by another unit of work, which has the member's lock and the newer values, or
    frozen by a build. frozen_at is checked again on the locked row: a build that committed since
    this statement began has frozen it.
    """
    if not followed:
        return
    columns = [list(followed)] + [[values.get(name) for values in followed.values()] for name in FOLLOWED_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH v AS (SELECT d.id, coalesce(u.username, d.username) AS username, "
            "coalesce(u.country, d.country) AS country, coalesce(u.company, d.company) AS company, "
            "coalesce(u.joined_at, d.joined_at) AS joined_at "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
            "AS u(user_id, username, country, company, joined_at) "
            "JOIN detections_detection d USING (user_id) WHERE d.user_id = ANY(%s::text[]) "
            "AND d.recorded_at > now() - interval '8 days' AND d.frozen_at IS NULL), "
            "target AS (SELECT v.* FROM v JOIN detections_detection d ON d.id = v.id "
            "WHERE d.frozen_at IS NULL AND (d.username, d.country, d.company, d.joined_at) "
            "IS DISTINCT FROM (v.username, v.country, v.company, v.joined_at) FOR UPDATE OF d SKIP LOCKED) "
            "UPDATE detections_detection AS d SET username = t.username, country = t.country, "
            "company = t.company, joined_at = t.joined_at FROM target t WHERE d.id = t.id",
            [*columns, columns[0]],
        )
