"""Applying stored events to members: in batches of many members, or for one member.

A worker takes members with pending events, oldest first, locks those no other holder has (the
per-member processing lock, detections.locks), and applies all their events in id order through
the member state machine (services.members), writing the lot with a few bulk statements. The
per-member task is the same thing for a batch of one member, which waits for its lock; it exists
for registrations, whose community profile is fetched outside any transaction, and for the outbox
sweep. Per-member order and exactly-once hold either way: a member's events are applied by one
lock holder, in order, and marked processed in the same transaction as their effects.

A registration whose profile cannot be had while inSided is down or not reached waits, pending:
batches leave its member alone and the outbox sweep brings it back until the community answers.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from itertools import groupby

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from access.services import audit_record
from core.dates import moment_check
from core.metrics import EVENTS_FAILED
from integrations.insided.client import TRANSIENT_ERRORS, CommunityClient, community_configured
from integrations.insided.errors import CommunityError
from integrations.insided.profiles import CommunityProfile

from .. import selectors
from ..locks import members_lock, members_try_lock
from ..models import PendingEvent, RawEvent, TrackedField
from .intake import events_processing_wake
from .members import MemberChange, MemberStates

logger = logging.getLogger(__name__)

EventType = RawEvent.EventType
Outcome = RawEvent.Outcome

# A pending registration's community profile, or why it could not be had.
Profiles = dict[int, CommunityProfile | str]


def events_process_batch(*, max_members: int = 500) -> tuple[int, int]:
    """Apply the pending events of up to `max_members` members; returns (events, members seen).

    Members with a registration pending are handed to `member_events_process`, which fetches
    their profile outside any transaction. Members whose registration awaits the community are
    not taken at all (the selector leaves them to the outbox sweep): handing them on from every
    batch would ask inSided for each of them many times a second while it is down.
    """
    from ..tasks import events_process_member

    with transaction.atomic():
        candidates = selectors.members_with_pending_events(limit=max_members)
        if not candidates:
            return 0, 0  # nothing written: no round trip for the commit setting either
        locked = members_try_lock(candidates)
        if len(locked) < len(candidates):
            # Another holder may have read those members' events before the latest arrived, and
            # the wake-up those events brought is this batch: look again once the holder is done.
            transaction.on_commit(events_processing_wake)
        events = list(selectors.events_pending_for_members(user_ids=locked))
        registering = {e.user_id for e in events if e.event_type == EventType.USER_REGISTERED}
        events = [e for e in events if e.user_id not in registering]
        _events_apply(events, profiles={})
        for user_id in registering:
            transaction.on_commit(lambda user_id=user_id: events_process_member.delay(user_id))
    return len(events), len(candidates)


def member_events_process(*, user_id: str) -> int:
    """Apply every pending event of one member, waiting for its lock; returns how many.

    A registration whose community profile cannot be had for now (`TRANSIENT_ERRORS`: inSided
    unavailable, or not reached in time) applies nothing and its error is raised: the member's
    events stay pending, none marked processed, and its later events wait behind the registration
    (per-member order). The outbox sweep brings the member back; other members go on meanwhile.
    """
    profiles = _registration_profiles_fetch(user_id=user_id)
    with transaction.atomic():
        members_lock([user_id])
        events = list(selectors.events_pending_for_members(user_ids=[user_id]))
        _events_apply(events, profiles=profiles)
    return len(events)


def _events_apply(events: list[RawEvent], *, profiles: Profiles) -> None:
    """Apply `events` (id order, their members locked) and mark them processed, in the caller's
    transaction; new members without a company or country are enriched after commit.

    One member's data never holds up the others: should the batch fail for anything but the
    database being away, each member is applied on its own, and a member that still fails is set
    aside (`events_set_aside`) while the rest commits. A member set aside keeps its later events
    back too, so they apply in order once an operator retries it (`events_retry_failed`).
    """
    if not events:
        return
    _commit_without_waiting_for_disk()
    now = timezone.now()
    set_aside = selectors.members_set_aside(user_ids={e.user_id for e in events})
    held = [e for e in events if e.user_id in set_aside]
    events = [e for e in events if e.user_id not in set_aside]
    try:
        with transaction.atomic():
            _members_apply(events, profiles, now)
    except _NOT_THE_DATA:
        raise  # the task retries the whole batch later
    except Exception:
        logger.warning("a batch of %d events failed; applying its members one by one", len(events), exc_info=True)
        for user_id, member_events in groupby(sorted(events, key=lambda e: (e.user_id, e.id)), lambda e: e.user_id):
            member_events = list(member_events)
            try:
                with transaction.atomic():
                    _members_apply(member_events, profiles, now)
            except _NOT_THE_DATA:
                raise
            except Exception as exc:
                logger.exception("member %s set aside: its events could not be applied", user_id)
                events_set_aside(member_events, error=f"{exc.__class__.__name__}: {exc}", at=now)
    events_set_aside(held, error="Held back: an earlier event of this member failed; retry the member.", at=now)


# The database itself failing (down, restarting, a connection cut): worth retrying whole, later.
_DATABASE_AWAY = (OperationalError, InterfaceError)
# ... and the task's soft time limit: the member in hand is not at fault, and going on member by
# member past it would end in the hard limit's kill. Rolled back, the events wait for their retry.
_NOT_THE_DATA = (*_DATABASE_AWAY, SoftTimeLimitExceeded)


def _members_apply(events: list[RawEvent], profiles: Profiles, now) -> None:
    states = MemberStates({e.user_id for e in events}, now=now)
    unavailable: dict[int, str] = {}
    for event in events:
        change = change_from_event(event, profiles)
        if change is None:
            event.outcome, unavailable[event.pk] = Outcome.PROFILE_UNAVAILABLE, registration_problem(event, profiles)
        else:
            event.outcome = states.apply(change)
    states.save()
    events_mark_processed(events, at=now)
    for event_id, problem in unavailable.items():  # registrations only: rare, one UPDATE each
        RawEvent.objects.filter(pk=event_id).update(error=problem[:2000])
    enrich = states.created_lacking_attributes()
    if enrich and community_configured():
        from ..tasks import member_enrich

        transaction.on_commit(lambda: [member_enrich.delay(user_id) for user_id in sorted(enrich)])


def events_set_aside(events: list[RawEvent], *, error: str, at: datetime) -> None:
    """Mark events failed with `error` and take them off the pending list: their member is set aside
    (admin › Raw events, outcome "failed"; /metrics; /health/ready) until an operator retries it."""
    if not events:
        return
    ids = [event.pk for event in events]
    RawEvent.objects.filter(pk__in=ids).update(outcome=Outcome.FAILED, error=error[:2000], processed_at=at)
    PendingEvent.objects.filter(event_id__in=ids).delete()
    EVENTS_FAILED.inc(len(events))


def events_retry_failed(*, user_ids: list[str], user, via: str) -> int:
    """Put these members' failed events back on the pending list, in their order, and wake a
    worker; returns how many. The same processing applies them, or sets them aside again.
    An operator's retry: audited (`events.retry`)."""
    with transaction.atomic():
        members_lock(user_ids)
        failed = list(RawEvent.objects.filter(user_id__in=user_ids, outcome=Outcome.FAILED).order_by("id"))
        RawEvent.objects.filter(pk__in=[e.pk for e in failed]).update(outcome="", error="", processed_at=None)
        PendingEvent.objects.bulk_create(
            [PendingEvent(event_id=e.pk, user_id=e.user_id, received_at=e.received_at) for e in failed]
        )
        audit_record(user, "events.retry", via=via, target=f"{len(user_ids)} members", user_ids=user_ids)
        transaction.on_commit(events_processing_wake)
    return len(failed)


def _commit_without_waiting_for_disk() -> None:
    """This transaction's commit does not wait for its WAL to reach disk.

    A batch writes far more WAL than an intake call, and intake commits queued behind its flush:
    with durable commits the webhook's p99 doubled. Safe here, unlike at intake: a crash can lose
    only whole recent batches — their effects and their events' processed marks together — and
    those events are then pending again and applied once, later. Intake still commits durably.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def change_from_event(event: RawEvent, profiles: Profiles) -> MemberChange | None:
    """What a stored event says happened to its member; None for a registration whose profile
    could not be had."""
    if event.event_type == EventType.USER_REGISTERED:
        profile = profiles.get(event.id)
        if not isinstance(profile, CommunityProfile) or profile.job_title is None:
            return None
        return MemberChange(
            user_id=event.user_id,
            title=profile.job_title,
            username=profile.username or event.username,
            attributes=profile.attributes(),
            event=event,
            at=event.received_at,
        )
    if event.field_role in (TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY):
        attributes = {event.field_role: event.value.strip()}
        return MemberChange(user_id=event.user_id, attributes=attributes, event=event, at=event.received_at)
    return MemberChange(
        user_id=event.user_id,
        title=event.value,
        username=event.username,
        attributes=payload_attributes(event.payload),
        event=event,
        at=event.received_at,
    )


def payload_attributes(payload: dict) -> dict:
    """Country, company and joined_at when the webhook carried them (validated at the door; a
    joined_at out of range, in an event stored before the door checked the range, is left out)."""
    attributes = {}
    for name in ("country", "company"):
        if isinstance(payload.get(name), str) and payload[name].strip():
            attributes[name] = payload[name].strip()
    joined_at = payload.get("joined_at")
    if isinstance(joined_at, str):
        try:
            parsed = parse_datetime(joined_at)
            if parsed is not None:
                attributes["joined_at"] = moment_check(parsed)
        except ValueError:  # well formed but no such moment, or out of range
            pass
    return attributes


def events_mark_processed(events: list[RawEvent], *, at: datetime) -> None:
    """Record applied events' outcomes and take them off the pending list; call it in the
    transaction that applied them, so the pending list holds exactly the unprocessed events.

    Two statements whatever the outcomes, each id list passed as one array: bulk_update's per-row
    CASE expressions, then one UPDATE per outcome with an IN list of a placeholder per event, cost
    the worker more CPU than the marks themselves (psycopg quotes and splits every placeholder).
    """
    if not events:
        return
    ids, outcomes = [], []
    for event in events:
        event.processed_at = at
        ids.append(event.pk)
        outcomes.append(str(event.outcome))  # a choice's value
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE detections_rawevent AS e SET outcome = m.outcome, processed_at = %s "
            # `= ANY` as well as the join: the rows by primary key even on a table without
            # statistics, where the join alone was planned as a scan of every raw event.
            "FROM unnest(%s::bigint[], %s::text[]) AS m(id, outcome) WHERE e.id = m.id AND e.id = ANY(%s::bigint[])",
            [at, ids, outcomes, ids],
        )
        cursor.execute("DELETE FROM detections_pendingevent WHERE event_id = ANY(%s::bigint[])", [ids])


def _registration_profiles_fetch(*, user_id: str) -> Profiles:
    """Profiles for the member's pending registrations, fetched before taking the lock.

    HTTP calls are kept out of the database transaction; a text in place of a profile says why it
    could not be had for good (unconfigured API, no such user, an unreadable reply): recorded
    `profile_unavailable`. A transient failure is raised instead, the registrations marked as
    awaiting the community: recording it would lose every registration of an outage.
    """
    pending = list(
        selectors.events_pending_for_members(user_ids=[user_id])
        .filter(event_type=EventType.USER_REGISTERED)
        .values_list("id", flat=True)
    )
    if not pending:
        return {}
    profile: CommunityProfile | str
    if community_configured():
        try:
            profile = CommunityClient().profile_get(user_id)
        except TRANSIENT_ERRORS:
            _registrations_await_community(pending)
            raise
        except (CommunityError, OSError) as exc:
            profile = f"community profile unavailable: {exc}"
    else:
        profile = "the community API is not configured (COMMUNITY_API_URL, _CLIENT_ID, _CLIENT_SECRET)"
    problem = profile if isinstance(profile, str) else profile.missing_text
    if problem:
        logger.warning("registered member %s: %s", user_id, problem)
    return dict.fromkeys(pending, profile)


def _registrations_await_community(event_ids: list[int]) -> None:
    """Mark pending registrations as awaiting the community, keeping the first time; one another
    holder applied meanwhile is no longer pending and stays so. No lock: the mark changes no event."""
    PendingEvent.objects.filter(event_id__in=event_ids, awaiting_community_since__isnull=True).update(
        awaiting_community_since=timezone.now()
    )


def registration_problem(event: RawEvent, profiles: Profiles) -> str:
    """Why a registration could not be applied, for its event's error (admin › Raw events)."""
    profile = profiles.get(event.pk)
    if isinstance(profile, CommunityProfile):
        return profile.missing_text or "community profile without a Job Title"
    return profile or "community profile not fetched"


def events_drain(*, max_seconds: float = 5.0, max_members: int = 500) -> tuple[int, bool]:
    """Apply batches while they come back full (a backlog), until the time is up.

    Returns (events applied, whether it stopped for time while still finding a backlog). A
    batch that is not full ends the drain: what arrives next comes with its own wake-up, and
    tiny batches cost more in queries than they apply.
    """
    deadline, total = time.monotonic() + max_seconds, 0
    while time.monotonic() < deadline:
        applied, members = events_process_batch(max_members=max_members)
        total += applied
        if members < max_members:
            return total, False
    return total, True


def events_sweep_unprocessed(*, older_than_seconds: int | None = None, limit: int = 1000) -> int:
    """Re-enqueue members whose events were never processed (broker or worker outage), and those
    whose registration awaits the community (inSided outage): one attempt per member a run."""
    from ..tasks import events_process_member

    age = settings.EVENTS_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    members = selectors.members_with_stale_events(received_before=timezone.now() - timedelta(seconds=age), limit=limit)
    for user_id in members:
        events_process_member.delay(user_id)
    if members:
        logger.info("outbox sweep re-enqueued %d member(s)", len(members))
    return len(members)
