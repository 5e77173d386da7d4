"""Write-back (opt-in): the community shows who its senior executives are.

With COMMUNITY_WRITEBACK_ROLE and/or COMMUNITY_WRITEBACK_BADGE_ID set (and the community client
configured with credentials of the `write` scope), every current senior member at
COMMUNITY_WRITEBACK_LEVELS holds that role and badge in the community, and loses them when they stop
being senior or leave those levels.

- **Asking**: the member state machine (`MemberStates.save`) asks for a change, in its own
  transaction, when a member's holding changes: one row per member and role or badge
  (`CommunityGrant`), an outbox. The webhook never waits for the community.
- **Writing**: `grants_write_due` writes due rows one at a time, one writer at a time (an advisory
  lock), at most COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND; quick retries in the client, then
  COMMUNITY_WRITEBACK_RETRY_SCHEDULE, then failed (admin › Community write-back changes, /metrics). A run
  stops at the first change the community did not answer: the rest wait for the next run.
- **Reconciling**: `community_sync` lists who holds the role and the badge in the community (the
  member list's documented filters) and asks for every difference from the senior members.
- **Ownership**: with COMMUNITY_WRITEBACK_TAKE_FROM=own (the default) the write-back takes away only
  what it gave (`CommunityGrant.given_by_us`), tracked per member and role or badge: a role or badge
  a community manager gave by hand stays, and a sync lists its holders as left alone. A role is
  looked up on the member first (the API's 200 does not say whether they held it), a badge's
  award says so itself. With `everyone` the role and badge belong to this service, and anyone else
  holding them loses them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from access.services import audit_record
from core.background import task_enqueue_or_leave
from core.metrics import COMMUNITY_WRITES
from core.rates import RateLimiter
from core.retries import retry_at
from integrations.insided.client import CommunityClient, community_configured
from integrations.insided.errors import CommunityError, CommunityNotFound, CommunityUnavailable

from ..locks import community_writer_lock
from ..models import CommunityGrant, SeniorMember

logger = logging.getLogger(__name__)
Kind, Status = CommunityGrant.Kind, CommunityGrant.Status

# A run of the periodic task stops after this long (the next starts a minute later).
RUN_BUDGET_SECONDS = 50.0
_BATCH = 50


class WritebackNotConfigured(Exception):
    """Neither a role nor a badge is configured, or the community client is not."""


@dataclass(frozen=True)
class Target:
    """A role or badge the senior members hold, and the member list's filter that finds its holders."""

    kind: str
    name: str

    @property
    def list_filter(self) -> str:
        # GET /user's documented filters: role names and badge ids.
        return "filter[roles.rolename][]" if self.kind == Kind.ROLE else "filter[badges.badgeid][]"

    def __str__(self) -> str:
        return f"role {self.name!r}" if self.kind == Kind.ROLE else f"badge {self.name}"


def writeback_targets() -> list[Target]:
    """The configured role and badge; [] when the write-back is off."""
    if not community_configured():
        return []
    targets = []
    if settings.COMMUNITY_WRITEBACK_ROLE.strip():
        targets.append(Target(Kind.ROLE, settings.COMMUNITY_WRITEBACK_ROLE.strip()))
    if settings.COMMUNITY_WRITEBACK_BADGE_ID.strip():
        targets.append(Target(Kind.BADGE, settings.COMMUNITY_WRITEBACK_BADGE_ID.strip()))
    return targets


def level_holds(level: str | None) -> bool:
    """Whether a member at `level` (None: not senior) holds the role and badge."""
    return level is not None and level in settings.COMMUNITY_WRITEBACK_LEVELS


# --- Asking ---------------------------------------------------------------------------------------


def members_holding_set(levels: Mapping[str, str | None], *, now: datetime | None = None) -> int:
    """Members whose holding changed, by their new level ({user_id: level}, None: not senior): their
    rows for every target are asked for. Part of the caller's transaction; the writer is woken after
    it commits."""
    changes = []
    for user_id, level in levels.items():
        holds = level_holds(level)
        if holds or level is None:
            reason = f"senior ({level})" if holds else "not senior"
        else:
            reason = f"{level}: not in COMMUNITY_WRITEBACK_LEVELS"
        changes += [Change(user_id, target, holds, reason) for target in writeback_targets()]
    return grants_ask(changes, now=now)


@dataclass(frozen=True)
class Change:
    user_id: str
    target: Target
    wanted: bool
    reason: str


def grants_ask(changes: list[Change], *, now: datetime | None = None) -> int:
    """Rows set pending, each a new generation, in one statement."""
    if not changes:
        return 0
    now = now or timezone.now()
    columns = [
        [c.user_id for c in changes],
        [c.target.kind for c in changes],
        [c.target.name for c in changes],
        [c.wanted for c in changes],
        [c.reason[:100] for c in changes],
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO detections_communitygrant AS g (user_id, kind, name, wanted, reason, status, result, "
            "attempts, next_attempt_at, last_error, generation, updated_at, given_by_us) "
            "SELECT u, k, n, w, r, 'pending', '', 0, %s, '', 1, %s, false "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::boolean[], %s::text[]) AS c(u, k, n, w, r) "
            # Rows locked in one order by every writer (members' transactions, a sync): no deadlock.
            "ORDER BY u, k, n "
            "ON CONFLICT (user_id, kind, name) DO UPDATE SET wanted = EXCLUDED.wanted, reason = EXCLUDED.reason, "
            "status = 'pending', result = '', attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at, "
            "last_error = '', generation = g.generation + 1, updated_at = EXCLUDED.updated_at",
            [now, now, *columns],
        )
    transaction.on_commit(grants_write_enqueue)
    return len(changes)


def grants_write_enqueue() -> None:
    from ..tasks import community_grants_write_due

    task_enqueue_or_leave(community_grants_write_due, what="the community write-back")


def grants_retry(grant_ids: list[int], *, user, via: str, now: datetime | None = None) -> int:
    """Failed rows (an operator's retry, audited: `community.retry`) become due now, their attempts
    counted afresh."""
    now = now or timezone.now()
    with transaction.atomic():
        count = CommunityGrant.objects.filter(pk__in=grant_ids, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        )
        audit_record(user, "community.retry", via=via, target=f"{count} changes", grant_ids=grant_ids)
        if count:
            transaction.on_commit(grants_write_enqueue)
    return count


# --- Writing --------------------------------------------------------------------------------------


@dataclass
class WriteReport:
    written: int = 0
    retrying: int = 0
    failed: int = 0
    busy: bool = False  # another writer holds the lock
    more: bool = False  # stopped with changes still due (time budget, or the community not answering)


def grants_write_due(
    *, client: CommunityClient | None = None, wait: bool = False, budget_seconds: float | None = RUN_BUDGET_SECONDS
) -> WriteReport:
    """Write the due changes, oldest first, until none is due, the budget is spent, or the community
    does not answer. `wait`: wait for a writer already running instead of leaving it the work."""
    report = WriteReport()
    with community_writer_lock(wait=wait) as held:
        if not held:
            report.busy = True
            return report
        client = client or CommunityClient(limiter=RateLimiter(settings.COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND))
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        while batch := list(_due().order_by("next_attempt_at", "id")[:_BATCH]):
            for grant in batch:
                if deadline is not None and time.monotonic() > deadline:
                    report.more = True
                    return report
                status = grant_write(client, grant)
                if status == "retrying":
                    report.retrying += 1
                    report.more = _due().exists()
                    return report
                if status != "superseded":
                    setattr(report, status, getattr(report, status) + 1)
    return report


def _due():
    return CommunityGrant.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now())


def grant_write(client: CommunityClient, grant: CommunityGrant) -> str:
    """Write one change and record the outcome: "written", "retrying", "failed", or "superseded" (a
    newer change of the row was asked for meanwhile: it is written next)."""
    grant = _grant_current(grant)
    if grant is None:
        return "superseded"
    action = "give" if grant.wanted else "take"
    if not grant.wanted and not grant.given_by_us and settings.COMMUNITY_WRITEBACK_TAKE_FROM == "own":
        # Not ours to take: given by hand, held before we gave it, or never given at all.
        left = _record(grant, status=Status.DONE, result=LEFT_ALONE, last_error="", written_at=timezone.now())
        COMMUNITY_WRITES.labels(kind=grant.kind, action=action, outcome="left_alone").inc()
        return "written" if left else "superseded"
    if Target(grant.kind, grant.name) not in writeback_targets():
        setting = "COMMUNITY_WRITEBACK_ROLE" if grant.kind == Kind.ROLE else "COMMUNITY_WRITEBACK_BADGE_ID"
        _record(grant, status=Status.FAILED, last_error=f"not written: {setting} no longer names this {grant.kind}")
        COMMUNITY_WRITES.labels(kind=grant.kind, action=action, outcome="failed").inc()
        return "failed"
    try:
        try:
            result = _write(client, grant)
        except CommunityNotFound as exc:
            result = _not_found(client, grant, exc)
    except (CommunityUnavailable, requests.RequestException) as exc:
        status = _failure_record(grant, str(exc) or exc.__class__.__name__, retryable=True)
    except CommunityError as exc:
        status = _failure_record(grant, str(exc), retryable=False)
    else:
        given_by_us = result in GIVEN if grant.wanted else False
        done = {"status": Status.DONE, "result": result, "last_error": "", "written_at": timezone.now()}
        if _record(grant, **done, given_by_us=grant.given_by_us or given_by_us):
            logger.info("community: %s: %s", grant, result)
            status = "written"
        else:
            status = "superseded"
    COMMUNITY_WRITES.labels(kind=grant.kind, action=action, outcome=status).inc()
    return status


def _grant_current(grant: CommunityGrant) -> CommunityGrant | None:
    """The change as the member stands now. A change asked for earlier may be out of date: a sync
    decides from a member list read over minutes while members change, and changes asked for
    before the write-back was switched off and on again missed what happened meanwhile. Writing
    what holds now makes both right. None: the row moved on since it was read (written next)."""
    level = SeniorMember.objects.filter(pk=grant.user_id).values_list("level", flat=True).first()
    wanted = level_holds(level)
    if wanted == grant.wanted:
        return grant
    changed = CommunityGrant.objects.filter(pk=grant.pk, generation=grant.generation).update(
        wanted=wanted,
        reason="changed since asked: " + ("senior" if wanted else "not senior"),
        generation=F("generation") + 1,
        updated_at=timezone.now(),
    )
    if not changed:
        return None
    grant.refresh_from_db()
    return grant


# What the community did when it gave: the write-back's own from then on.
GIVEN = frozenset({"role given", "badge awarded"})
LEFT_ALONE = "left alone: not given by the write-back (COMMUNITY_WRITEBACK_TAKE_FROM=own)"


def _write(client: CommunityClient, grant: CommunityGrant) -> str:
    if grant.kind == Kind.ROLE and grant.wanted:
        if (
            settings.COMMUNITY_WRITEBACK_TAKE_FROM == "own"
            and not grant.given_by_us
            and grant.name in roles_of(client.user_get(grant.user_id))
        ):
            return "role already held"  # someone else's: left to them when the member stops being senior
        client.role_add(grant.user_id, grant.name)
        return "role given"
    if grant.kind == Kind.ROLE:
        client.role_revoke(grant.user_id, grant.name)
        return "role taken away"
    if grant.wanted:
        return "badge awarded" if client.badge_award(grant.user_id, grant.name) else "badge already held"
    return "badge taken away" if client.badge_revoke(grant.user_id, grant.name) else "badge not held"


def _not_found(client: CommunityClient, grant: CommunityGrant, exc: CommunityNotFound) -> str:
    """A 404 says "no such user, or no such role or badge" without saying which: the member's profile
    (GET /user/{id}) tells. No member: nothing to hold. A role revoked from someone who does not hold
    it (what the API answers then is not documented): nothing to take away. Otherwise the role or
    badge does not exist: the configuration is wrong, and that is an error."""
    try:
        user = client.user_get(grant.user_id)
    except CommunityNotFound:
        return "not in the community"
    if grant.kind == Kind.ROLE and not grant.wanted and grant.name not in roles_of(user):
        return "role not held"
    setting = "COMMUNITY_WRITEBACK_ROLE" if grant.kind == Kind.ROLE else "COMMUNITY_WRITEBACK_BADGE_ID"
    raise CommunityError(f"{exc}; the member exists, so the community has no {grant.kind} {grant.name!r} ({setting})")


def roles_of(user: Mapping) -> set[str]:
    """The role names a `User` (GET /user/{id}) holds: `_related.roles[].itemname`. A reply
    without the list is an error: an empty set would read as "holds none"."""
    related = user.get("_related")
    roles = related.get("roles") if isinstance(related, dict) else None
    if not isinstance(roles, list):
        raise CommunityError("user reply has no _related.roles list")
    return {r["itemname"] for r in roles if isinstance(r, dict) and isinstance(r.get("itemname"), str)}


def _failure_record(grant: CommunityGrant, error: str, *, retryable: bool) -> str:
    attempts = grant.attempts + 1  # the grant counts finished tries: this one is the next
    retry = retry_at(settings.COMMUNITY_WRITEBACK_RETRY_SCHEDULE, attempts, timezone.now()) if retryable else None
    if retry is not None:
        _record(grant, status=Status.PENDING, attempts=attempts, next_attempt_at=retry, last_error=error[:2000])
        logger.warning("community: %s not written (%s); retrying", grant, error)
        return "retrying"
    _record(grant, status=Status.FAILED, attempts=attempts, last_error=error[:2000])
    logger.error("community: %s failed: %s", grant, error)
    return "failed"


def _record(grant: CommunityGrant, **values) -> bool:
    """Record an outcome on the generation written: a change asked for meanwhile stays pending."""
    return bool(
        CommunityGrant.objects.filter(pk=grant.pk, generation=grant.generation).update(
            updated_at=timezone.now(), **values
        )
    )


# --- Reconciling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    target: Target
    give: list[str]  # senior members the community does not show holding it
    take: list[str]  # holders who are not (or not at the configured levels) senior members
    left_alone: list[str] = field(default_factory=list)  # such holders the write-back did not give it to


@dataclass
class SyncReport:
    drift: list[Drift]
    outcomes: list[CommunityGrant] = field(default_factory=list)  # the drift's rows after writing
    write: WriteReport | None = None


def community_drift(client: CommunityClient) -> list[Drift]:
    """Where the community differs from the senior members, per role and badge."""
    targets = writeback_targets()
    if not targets:
        raise WritebackNotConfigured(
            "community write-back is off: set COMMUNITY_WRITEBACK_ROLE and/or COMMUNITY_WRITEBACK_BADGE_ID, "
            "and COMMUNITY_API_URL, COMMUNITY_CLIENT_ID and COMMUNITY_CLIENT_SECRET"
        )
    members = SeniorMember.objects.filter(level__in=settings.COMMUNITY_WRITEBACK_LEVELS)
    wanted = set(members.values_list("user_id", flat=True))
    drift = []
    for target in targets:
        listed = client.users_holding({target.list_filter: target.name}, page_size=settings.COMMUNITY_USERS_PAGE_SIZE)
        holders = set(listed)
        others = holders - wanted
        if settings.COMMUNITY_WRITEBACK_TAKE_FROM == "own":
            ours = _given_by_us(target, others)
            drift.append(Drift(target, _ordered(wanted - holders), _ordered(ours), _ordered(others - ours)))
        else:
            drift.append(Drift(target, give=_ordered(wanted - holders), take=_ordered(others)))
    return drift


def _given_by_us(target: Target, user_ids: set[str]) -> set[str]:
    rows = CommunityGrant.objects.filter(kind=target.kind, name=target.name, given_by_us=True, user_id__in=user_ids)
    return set(rows.values_list("user_id", flat=True))


def _ordered(user_ids: set[str]) -> list[str]:
    return sorted(user_ids, key=lambda uid: (len(uid), uid))  # numeric ids in numeric order


def community_sync(
    *, dry_run: bool, client: CommunityClient | None = None, user=None, via: str | None = None
) -> SyncReport:
    """Find the drift; unless `dry_run`, ask for every difference and write them now. An
    operator's sync (`via`: the command) is audited (`community.sync`) with the drift and how many
    writes failed; the daily reconcile (`via` None) is not."""
    client = client or CommunityClient(limiter=RateLimiter(settings.COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND))
    report = SyncReport(drift=community_drift(client))
    if dry_run:
        return report
    changes = [Change(uid, d.target, True, "community_sync: lacks it") for d in report.drift for uid in d.give]
    changes += [Change(uid, d.target, False, "community_sync: not senior") for d in report.drift for uid in d.take]
    with transaction.atomic():
        grants_ask(changes)
    report.write = grants_write_due(client=client, wait=True, budget_seconds=None)
    keys = {(c.user_id, c.target.kind, c.target.name) for c in changes}
    rows = CommunityGrant.objects.filter(user_id__in={k[0] for k in keys}).order_by("kind", "user_id")
    report.outcomes = [row for row in rows if (row.user_id, row.kind, row.name) in keys]
    if via is not None:
        drift = {str(d.target): {"give": len(d.give), "take": len(d.take)} for d in report.drift}
        failed = sum(grant.status == Status.FAILED for grant in report.outcomes)
        with transaction.atomic():
            audit_record(user, "community.sync", via=via, target="community", drift=drift, failed=failed)
    return report
