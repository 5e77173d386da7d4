"""The intake pipeline: receive a webhook event, then apply a member's events in order."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from captpathfinder.background import BackgroundCall
from captpathfinder.backoff import Backoff
from captpathfinder.metrics import DETECTIONS
from classification.services import classify, ruleset_active

from . import selectors
from .community import CommunityClient, CommunityError, CommunityProfile, community_configured
from .locks import INTAKE_LOCK_NAMESPACE, member_intake_lock, member_lock
from .models import Detection, Level, PendingEvent, RawEvent, SeniorMember, TrackedField

logger = logging.getLogger(__name__)

EventType = RawEvent.EventType
Outcome = RawEvent.Outcome


@dataclass(frozen=True)
class IncomingEvent:
    """A validated webhook delivery, as the webhook serializers produce it."""

    event_type: str
    user_id: str
    payload: dict
    username: str = ""
    field: str = ""
    value: str = ""
    old_value: str = ""
    delivery_id: str | None = None

    @property
    def idempotency_key(self) -> str:
        # Content, not identity: a redelivery has the same key as the event it repeats; a
        # genuine change back (VP -> Engineer -> VP) differs from the latest stored event.
        parts = [self.event_type, self.user_id, self.field.casefold(), self.value, self.old_value]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    status: str  # "accepted" | "duplicate" | "ignored"
    event_id: int | None


def event_receive(*, incoming: IncomingEvent) -> Receipt:
    """Store a delivery (or recognise it as a duplicate) and enqueue processing after commit.

    Nothing is classified here: the reply must not wait on processing, and the stored event
    is the outbox the worker (or the sweep, when the broker is down) reads.
    """
    role = ""
    if incoming.event_type == EventType.PROFILE_UPDATED:
        role = selectors.tracked_field_role(name=incoming.field)
        if role is None:
            return Receipt("ignored", None)
        if role != TrackedField.Role.JOB_TITLE and not selectors.member_exists(user_id=incoming.user_id):
            return Receipt("ignored", None)

    key = incoming.idempotency_key
    if connection.vendor == "postgresql":
        receipt = _event_store_postgresql(incoming, role, key)
        if receipt.status == "accepted":
            transaction.on_commit(events_processing_wake_soon)
        return receipt
    try:
        with transaction.atomic():
            member_intake_lock(incoming.user_id)
            if incoming.delivery_id:
                earlier = RawEvent.objects.filter(delivery_id=incoming.delivery_id).values_list("id", flat=True).first()
                if earlier is not None:
                    return Receipt("duplicate", earlier)
            latest = selectors.event_latest_for_field(user_id=incoming.user_id, field=incoming.field)
            if latest is not None and latest.idempotency_key == key:
                return Receipt("duplicate", latest.id)
            event = RawEvent.objects.create(
                event_type=incoming.event_type,
                delivery_id=incoming.delivery_id,
                user_id=incoming.user_id,
                username=incoming.username,
                field=incoming.field,
                field_role=role,
                value=incoming.value,
                old_value=incoming.old_value,
                payload=incoming.payload,
                idempotency_key=key,
            )
            PendingEvent.objects.create(event=event, user_id=event.user_id, received_at=event.received_at)
            transaction.on_commit(events_processing_wake_soon)
    except IntegrityError:
        # Same delivery id stored by a concurrent request for another user id: still a repeat.
        earlier = RawEvent.objects.filter(delivery_id=incoming.delivery_id).values_list("id", flat=True).first()
        if earlier is None:
            raise
        return Receipt("duplicate", earlier)
    return Receipt("accepted", event.id)


def _event_store_postgresql(incoming: IncomingEvent, role: str, key: str) -> Receipt:
    """The same as the ORM path below, in one round trip (migration 0005's function): the
    webhook's hot path, where four statements and a commit cost more than everything else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, event_id FROM captpathfinder_event_receive(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                INTAKE_LOCK_NAMESPACE,
                incoming.event_type,
                incoming.delivery_id,
                incoming.user_id,
                incoming.username,
                incoming.field,
                role,
                incoming.value,
                incoming.old_value,
                json.dumps(incoming.payload),
                key,
            ],
        )
        status, event_id = cursor.fetchone()
    return Receipt(status, event_id)


# While the broker is unreachable, skip publishing for a moment: each try costs a connect
# timeout, and the sweep enqueues the stored events once the broker is back.
_broker_backoff = Backoff(5.0)


# A worker applies pending events in batches (detections.batch); intake only has to make sure
# one is on its way. Each web process schedules at most one wake-up per interval, due at the
# interval's end: every event stored in the interval is committed by then, and the wait lets
# events gather into batches big enough to be cheap (per-batch queries dominate small ones).
WAKE_INTERVAL_SECONDS = 0.5
_next_wake_at = 0.0


def events_processing_wake() -> bool:
    """Make sure a worker applies pending events shortly; returns whether a task was published."""
    global _next_wake_at
    now = time.monotonic()
    if not _wake_due(now):
        return False
    from .tasks import events_process_pending

    try:
        events_process_pending.apply_async(countdown=WAKE_INTERVAL_SECONDS)
        _next_wake_at = now + WAKE_INTERVAL_SECONDS
    except Exception:  # kombu raises several unrelated types for an unreachable broker
        _broker_backoff.failed(now)
        logger.warning("broker unavailable; stored events left for the outbox sweep", exc_info=True)
        return False
    return True


def events_processing_wake_soon() -> None:
    """`events_processing_wake` on a thread of its own: intake's reply does not wait for the broker.

    A publish costs about 0.8 ms of CPU (4–5 ms of the reply under load, for one webhook in two
    hundred at 800/s), and while Redis is down a connect timeout of up to two seconds. A wake-up
    that never goes out only delays the events: the outbox sweep enqueues them.
    """
    if _wake_due(time.monotonic()):  # else a wake-up is on its way: no thread switch per webhook
        _wake_in_background.request()


def _wake_due(now: float) -> bool:
    return now >= _next_wake_at and not _broker_backoff.active(now)


_wake_in_background = BackgroundCall(events_processing_wake, name="processing-wake")


# --- Processing -------------------------------------------------------------------------------


@dataclass
class _Changes:
    enrich: set[str] = field(default_factory=set)


def member_events_process(*, user_id: str) -> int:
    """Apply every unprocessed event of one member, oldest first; returns how many.

    The member lock makes concurrent calls for one member run one after the other, and each
    event's state change and its processed mark commit together: a worker killed half-way
    leaves the events unprocessed, to be applied once, later.
    """
    profiles = _registration_profiles_fetch(user_id=user_id)
    changes = _Changes()
    with transaction.atomic():
        member_lock(user_id)
        events = list(selectors.events_pending_for_members(user_ids=[user_id]).select_for_update())
        now = timezone.now()
        for event in events:
            event.outcome = _event_apply(event, profiles, changes)
        events_mark_processed(events, at=now)
        if changes.enrich and community_configured():
            from .tasks import member_enrich

            for member_id in changes.enrich:
                transaction.on_commit(lambda member_id=member_id: member_enrich.delay(member_id))
    return len(events)


def events_mark_processed(events: list[RawEvent], *, at: datetime) -> None:
    """Record applied events' outcomes and take them off the pending list; call it in the
    transaction that applied them, so the pending list holds exactly the unprocessed events.

    One UPDATE per outcome: bulk_update's per-row CASE expressions cost a batch more than that.
    """
    by_outcome: dict[str, list[int]] = {}
    for event in events:
        event.processed_at = at
        by_outcome.setdefault(event.outcome, []).append(event.pk)
    for outcome, ids in by_outcome.items():
        RawEvent.objects.filter(pk__in=ids).update(outcome=outcome, processed_at=at)
    PendingEvent.objects.filter(event_id__in=[event.pk for event in events]).delete()


def _registration_profiles_fetch(*, user_id: str) -> dict[int, CommunityProfile | None]:
    """Fetch profiles for pending registration events before taking the lock.

    HTTP calls are kept out of the database transaction; None marks a profile that could
    not be had (unconfigured API or a final failure).
    """
    pending = list(
        selectors.events_pending_for_members(user_ids=[user_id])
        .filter(event_type=EventType.USER_REGISTERED)
        .values_list("id", flat=True)
    )
    if not pending:
        return {}
    profile = None
    if community_configured():
        try:
            profile = CommunityClient().profile_get(user_id)
        except (CommunityError, OSError) as exc:
            logger.warning("profile of registered member %s unavailable: %s", user_id, exc)
    else:
        logger.warning("member %s registered but COMMUNITY_API_URL is not configured", user_id)
    return dict.fromkeys(pending, profile)


def _event_apply(event: RawEvent, profiles: dict[int, CommunityProfile | None], changes: _Changes) -> str:
    if event.event_type == EventType.USER_REGISTERED:
        profile = profiles.get(event.id)
        if profile is None or profile.job_title is None:
            return Outcome.PROFILE_UNAVAILABLE
        return member_apply_title(
            user_id=event.user_id,
            username=profile.username or event.username,
            title=profile.job_title,
            attributes=_profile_attributes(profile),
            event=event,
            changes=changes,
        )
    if event.field_role in (TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY):
        attributes = {event.field_role: event.value.strip()}
        return member_update_attributes(user_id=event.user_id, attributes=attributes)
    return member_apply_title(
        user_id=event.user_id,
        username=event.username,
        title=event.value,
        attributes=payload_attributes(event.payload),
        event=event,
        changes=changes,
    )


def _profile_attributes(profile: CommunityProfile) -> dict:
    attributes = {"country": profile.country, "company": profile.company, "joined_at": profile.joined_at}
    return {k: v for k, v in attributes.items() if v}


def payload_attributes(payload: dict) -> dict:
    """Country, company and joined_at when the webhook carried them (already validated)."""
    attributes = {}
    for name in ("country", "company"):
        if isinstance(payload.get(name), str) and payload[name].strip():
            attributes[name] = payload[name].strip()
    joined_at = payload.get("joined_at")
    if isinstance(joined_at, str):
        from django.utils.dateparse import parse_datetime

        try:
            parsed = parse_datetime(joined_at)
        except ValueError:
            parsed = None
        if parsed is not None:
            attributes["joined_at"] = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    return attributes


def member_transition(*, old_level: str | None, new_level: str) -> tuple[str, str | None]:
    """The state machine for a senior title: (outcome, kind of detection to record or None).

    Not a member yet -> created + `first`; vp -> csuite -> promoted + `promotion`; anything
    else (same level, csuite -> vp) -> updated, no detection. Shared by the webhook path and
    the bulk backfill, so both move members the same way.
    """
    if old_level is None:
        return Outcome.CREATED, Detection.Kind.FIRST
    if old_level == Level.VP and new_level == Level.CSUITE:
        return Outcome.PROMOTED, Detection.Kind.PROMOTION
    return Outcome.UPDATED, None


def detection_snapshot(member: SeniorMember, *, kind: str, at: datetime, event: RawEvent | None = None) -> Detection:
    """A detection of `member` as it is now (unsaved): a snapshot, so it outlives the member.

    Shared by the webhook path, the batch processor and the backfill.
    """
    return Detection(
        user_id=member.user_id,
        username=member.username,
        title=member.title,
        level=member.level,
        country=member.country,
        company=member.company,
        joined_at=member.joined_at,
        kind=kind,
        detected_at=at,
        rules_version=member.rules_version,
        event=event,
    )


def member_apply_title(
    *,
    user_id: str,
    username: str,
    title: str,
    attributes: dict,
    event: RawEvent | None = None,
    changes: _Changes | None = None,
    now: datetime | None = None,
    seen_at: datetime | None = None,
) -> str:
    """Move one member through the state machine for a new title; caller holds the lock.

    not senior -> removed if present; new senior -> member + `first` detection;
    vp -> csuite -> `promotion` detection; anything else -> update only.
    """
    now = now or timezone.now()
    result = classify(title)
    member = SeniorMember.objects.filter(pk=user_id).first()
    if not result.is_senior:
        if member is None:
            return Outcome.NOT_SENIOR
        member.delete()
        return Outcome.REMOVED

    outcome, kind = member_transition(old_level=member.level if member else None, new_level=result.level)
    if member is None:
        member = SeniorMember(user_id=user_id, first_detected_at=now)

    member.username = username or member.username
    member.title = title.strip()
    member.level = result.level
    member.last_seen_at = seen_at or now
    member.rules_version = result.version
    for name, value in attributes.items():
        setattr(member, name, value)
    member.save()

    if kind is not None:
        detection_snapshot(member, kind=kind, at=now, event=event).save()
        # Counted now, not on commit: a batch that rolls back is retried and counted again, a
        # rare over-count a rate metric tolerates; the database stays the record.
        DETECTIONS.labels(kind=kind, level=member.level).inc()
    if changes is not None and outcome == Outcome.CREATED and not (member.country and member.company):
        changes.enrich.add(member.user_id)
    return outcome


def member_update_attributes(*, user_id: str, attributes: dict) -> str:
    updated = SeniorMember.objects.filter(pk=user_id).update(**attributes)
    return Outcome.ATTRIBUTES_UPDATED if updated else Outcome.NOT_A_MEMBER


def member_enrich(*, user_id: str, client: CommunityClient | None = None) -> bool:
    """Fill country, company and joined_at from the community profile where they are missing.

    A failure is recorded on the member (enrichment_error; filterable in the admin) and
    logged; the member stays recorded without those fields.
    """
    if not selectors.member_exists(user_id=user_id):
        return False
    try:
        profile = (client or CommunityClient()).profile_get(user_id)
    except (CommunityError, OSError) as exc:
        logger.warning("enrichment of member %s failed: %s", user_id, exc)
        SeniorMember.objects.filter(pk=user_id).update(enrichment_error=str(exc)[:1000])
        return False
    with transaction.atomic():
        member_lock(user_id)
        member = SeniorMember.objects.select_for_update().filter(pk=user_id).first()
        if member is None:
            return False
        filled = {}
        for name, value in _profile_attributes(profile).items():
            if not getattr(member, name):
                setattr(member, name, value)
                filled[name] = value
        member.enriched_at = timezone.now()
        member.enrichment_error = ""
        member.save()
        if filled:
            # The detection snapshot is what digests show: complete it while it is unsent.
            Detection.objects.filter(user_id=user_id, digest__isnull=True).update(**filled)
    return True


# --- Reclassification under a new ruleset ----------------------------------------------------------


@dataclass(frozen=True)
class LevelChange:
    user_id: str
    username: str
    title: str
    old_level: str
    new_level: str | None  # None: no longer senior, the member is removed
    rule: str


def members_reclassify(*, dry_run: bool, user_ids: list[str] | None = None) -> tuple[list[LevelChange], int]:
    """Re-evaluate stored members under the active ruleset; returns (level changes, members read).

    Changes go through member_apply_title under the member lock, exactly as a webhook would
    apply the same title: removals, promotions (with their detection) and demotions. A member
    whose title changed meanwhile is skipped: its newer event was classified already.
    """
    ruleset = ruleset_active()
    members = SeniorMember.objects.order_by("pk")
    if user_ids is not None:
        members = members.filter(pk__in=user_ids)
    changes, confirmed, read = [], [], 0
    for member in members.only("user_id", "username", "title", "level", "rules_version").iterator(chunk_size=2000):
        read += 1
        result = ruleset.classify(member.title)
        if result.level != member.level:
            changes.append(
                LevelChange(member.user_id, member.username, member.title, member.level, result.level, result.rule)
            )
        elif member.rules_version != ruleset.version:
            confirmed.append(member.user_id)
    if dry_run:
        return changes, read
    for change in changes:
        with transaction.atomic():
            member_lock(change.user_id)
            member = SeniorMember.objects.select_for_update().filter(pk=change.user_id).first()
            if member is None or member.title != change.title:
                continue
            member_apply_title(
                user_id=member.user_id,
                username=member.username,
                title=member.title,
                attributes={},
                seen_at=member.last_seen_at,
            )
    for start in range(0, len(confirmed), 2000):
        SeniorMember.objects.filter(pk__in=confirmed[start : start + 2000]).update(rules_version=ruleset.version)
    return changes, read


# --- Outbox sweep and housekeeping -------------------------------------------------------------


def events_sweep_unprocessed(*, older_than_seconds: int | None = None, limit: int = 1000) -> int:
    """Re-enqueue members whose events were never processed (broker or worker outage)."""
    age = settings.EVENTS_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    members = selectors.members_with_stale_events(received_before=timezone.now() - timedelta(seconds=age), limit=limit)
    from .tasks import events_process_member

    for user_id in members:
        events_process_member.delay(user_id)
    if members:
        logger.info("outbox sweep re-enqueued %d member(s)", len(members))
    return len(members)


def events_purge_old(*, retention_days: int | None = None, batch_size: int | None = None) -> int:
    """Delete processed raw events past retention, in batches so no statement locks for long.

    Unprocessed events are kept whatever their age: deleting them would lose a change.
    """
    days = settings.EVENTS_RETENTION_DAYS if retention_days is None else retention_days
    size = batch_size or settings.EVENTS_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=days)
    expired = RawEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False).order_by("id")
    total = 0
    while True:
        ids = list(expired.values_list("id", flat=True)[:size])
        if not ids:
            return total
        total += RawEvent.objects.filter(id__in=ids).delete()[0]
