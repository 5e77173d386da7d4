"""Apply the pending events of many members in one transaction: the high-throughput path.

One Celery task per event spends more on the task than on the event. Here a worker takes the
members with pending events, oldest first, locks those no other worker holds (the same
per-member advisory lock as intake and `member_events_process`), and applies all their events
in id order with a handful of bulk statements. Per-member order and exactly-once hold as on
the per-member path: a member's events are applied by one lock holder, in order, and marked
processed in the same transaction as their effects.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from captpathfinder.metrics import DETECTIONS
from classification.services import classify

from . import selectors
from .community import community_configured
from .locks import members_try_lock
from .models import Detection, RawEvent, SeniorMember, TrackedField
from .services import (
    Outcome,
    detection_snapshot,
    events_mark_processed,
    events_processing_wake,
    member_transition,
    payload_attributes,
)

logger = logging.getLogger(__name__)
_MEMBER_FIELDS = ["username", "title", "level", "last_seen_at", "rules_version", "country", "company", "joined_at"]


class _BatchState:
    """The members a batch touches, moved event by event in memory, written once at the end."""

    def __init__(self, user_ids: set[str], now: datetime) -> None:
        self.now = now
        self.in_database = SeniorMember.objects.in_bulk(list(user_ids))
        self.members: dict[str, SeniorMember | None] = dict.fromkeys(user_ids)
        self.members.update(self.in_database)
        self.changed: set[str] = set()
        self.detections: list[Detection] = []
        self.enrich: set[str] = set()

    def apply(self, event: RawEvent) -> str:
        member = self.members[event.user_id]
        if event.field_role in (TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY):
            if member is None:
                return Outcome.NOT_A_MEMBER
            setattr(member, event.field_role, event.value.strip())
            self.changed.add(event.user_id)
            return Outcome.ATTRIBUTES_UPDATED
        result = classify(event.value)
        if not result.is_senior:
            if member is None:
                return Outcome.NOT_SENIOR
            self.members[event.user_id] = None
            return Outcome.REMOVED
        outcome, kind = member_transition(old_level=member.level if member else None, new_level=result.level)
        if member is None:
            member = self.members[event.user_id] = SeniorMember(user_id=event.user_id, first_detected_at=self.now)
        member.username = event.username or member.username
        member.title = event.value.strip()
        member.level = result.level
        member.last_seen_at = self.now
        member.rules_version = result.version
        for name, value in payload_attributes(event.payload).items():
            setattr(member, name, value)
        self.changed.add(event.user_id)
        if kind is not None:
            self.detections.append(detection_snapshot(member, kind=kind, at=self.now, event=event))
            DETECTIONS.labels(kind=kind, level=member.level).inc()
        if outcome == Outcome.CREATED:
            self.enrich.add(member.user_id)
        return outcome

    def write(self) -> None:
        """Deletes first (a member removed and re-created in one batch is a new row), then upserts."""
        gone = [uid for uid, old in self.in_database.items() if self.members[uid] is not old]
        new = [m for uid, m in self.members.items() if m is not None and m is not self.in_database.get(uid)]
        kept = [m for uid, m in self.in_database.items() if self.members[uid] is m and uid in self.changed]
        SeniorMember.objects.filter(pk__in=gone).delete()
        # New and changed members in one upsert: bulk_update's CASE per row and field cost the worker
        # a third of its time. Every writer of members holds the member lock, so a conflict here is
        # one of our own `kept` rows, and first_detected_at and enrichment are not in the update.
        SeniorMember.objects.bulk_create(
            new + kept, batch_size=500, update_conflicts=True, unique_fields=["user_id"], update_fields=_MEMBER_FIELDS
        )
        Detection.objects.bulk_create(self.detections, batch_size=500)
        self.enrich = {uid for uid in self.enrich if _lacks_attributes(self.members[uid])}


def _lacks_attributes(member: SeniorMember | None) -> bool:
    return member is not None and not (member.country and member.company)


def events_process_batch(*, max_members: int = 500) -> tuple[int, int]:
    """Apply the pending events of up to `max_members` members; returns (events, members seen).

    Members with a registration event pending are left to `member_events_process`, which
    fetches their profile outside any transaction.
    """
    from .tasks import events_process_member, member_enrich

    with transaction.atomic():
        candidates = selectors.members_with_pending_events(limit=max_members)
        if not candidates:
            return 0, 0  # nothing written: no round trip for the commit setting either
        _commit_without_waiting_for_disk()
        locked = members_try_lock(candidates)
        if len(locked) < len(candidates):
            # Another holder may have read those members' events before the latest arrived, and
            # the wake-up those events brought is this batch: look again once the holder is done.
            transaction.on_commit(events_processing_wake)
        events = list(selectors.events_pending_for_members(user_ids=locked))
        registering = {e.user_id for e in events if e.event_type == RawEvent.EventType.USER_REGISTERED}
        events = [e for e in events if e.user_id not in registering]
        now = timezone.now()
        state = _BatchState({e.user_id for e in events}, now)
        for event in events:
            event.outcome = state.apply(event)
        state.write()
        events_mark_processed(events, at=now)
        if state.enrich and community_configured():
            transaction.on_commit(lambda: [member_enrich.delay(uid) for uid in state.enrich])
        for user_id in registering:
            transaction.on_commit(lambda user_id=user_id: events_process_member.delay(user_id))
    return len(events), len(candidates)


def _commit_without_waiting_for_disk() -> None:
    """This transaction's commit does not wait for its WAL to reach disk (PostgreSQL).

    A batch writes far more WAL than an intake call, and intake commits queued behind its flush:
    with durable commits the webhook's p99 doubled. Safe here, unlike at intake: a crash can lose
    only whole recent batches — their effects and their events' processed marks together — and
    those events are then pending again and applied once, later. Intake still commits durably.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def events_drain(*, max_seconds: float = 5.0, max_members: int = 500) -> tuple[int, bool]:
    """Apply batches while they come back full (a backlog), until the time is up.

    Returns (events applied, whether it stopped for time while still finding a backlog). A
    batch that is not full ends the drain: what arrives next comes with its own wake-up, and
    tiny batches cost more in queries than they apply.
    """
    import time

    deadline, total = time.monotonic() + max_seconds, 0
    while time.monotonic() < deadline:
        applied, members = events_process_batch(max_members=max_members)
        total += applied
        if members < max_members:
            return total, False
    return total, True
