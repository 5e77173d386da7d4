"""The hand-off's outbox: detections become Handoff rows (`handoffs_find`), and each row becomes one
Salesforce Task for the Account's owner (`handoffs_run_due`). Runs on the worker, every minute and
when woken; the webhook never waits for Salesforce.

Exactly once: Salesforce's create has no idempotency key, and a Task's custom field cannot be
relied on to be an External ID (activity fields), so upsert is not used. Each row has a key of its
own, written in the Task's CRM_TASK_KEY_FIELD. Before a create is sent, `create_sent_at` is
committed; a row that has it looks for its Task by that key before creating again. An answer lost
after Salesforce created the Task is therefore found, never created twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from core.background import task_enqueue_or_leave
from core.dates import moment_text
from core.metrics import CRM_HANDOFFS
from core.rates import RateLimiter
from core.retries import retry_at
from detections.links import correct_url, profile_url
from detections.models import Detection
from detections.selectors import members_rows
from integrations.insided.client import CommunityClient, community_configured
from integrations.insided.errors import CommunityError
from integrations.salesforce.client import ApiUsage, SalesforceClient, soql_quote
from integrations.salesforce.errors import (
    SalesforceError,
    SalesforceLimitExceeded,
    SalesforceRejected,
)

from ..models import AccountPick, Handoff
from .matching import account_find, pick_keys

logger = logging.getLogger(__name__)
Status = Handoff.Status

RUN_BUDGET_SECONDS = 50.0
# A run claims the rows it hands off for this long: another run leaves them alone meanwhile, and
# takes them over (looking for the Task first) if this one died.
CLAIM_SECONDS = 300
_BATCH = 20
PAUSED_KEY = "crm:paused-until"
USAGE_KEY = "crm:api-usage"
SUBJECT_MAX = 255  # Task.Subject's length
# A new member's company and email domain arrive from their community profile just after the
# detection: a hand-off that finds no account before then tries again, for up to half an hour.
PROFILE_WAIT_SECONDS = 60
PROFILE_WAIT_MAX_SECONDS = 1800


def handoff_key(detection_id: int) -> str:
    return f"captpathfinder-detection-{detection_id}"


# --- Finding the detections to hand off ----------------------------------------------------------


def detections_without_handoff(*, since: datetime):
    """Detections at CRM_HANDOFF_LEVELS and of CRM_HANDOFF_KINDS, detected since `since`, that have no hand-off."""
    return Detection.objects.filter(
        level__in=settings.CRM_HANDOFF_LEVELS,
        kind__in=settings.CRM_HANDOFF_KINDS,
        detected_at__gte=since,
        salesforce_handoff__isnull=True,
    ).order_by("detected_at", "pk")


def handoffs_find(*, since: datetime | None = None, now: datetime | None = None) -> int:
    """A pending hand-off for each detection that should have one (from CRM_HANDOFF_LOOKBACK_HOURS
    back, or `since`); returns how many were added. Safe to run at once: the key is unique."""
    now = now or timezone.now()
    since = since or now - timedelta(hours=settings.CRM_HANDOFF_LOOKBACK_HOURS)
    ids = list(detections_without_handoff(since=since).values_list("pk", flat=True)[:5000])
    rows = [
        Handoff(detection_id=pk, key=handoff_key(pk), next_attempt_at=now, created_at=now, updated_at=now) for pk in ids
    ]
    return len(Handoff.objects.bulk_create(rows, ignore_conflicts=True))


# --- Handing off ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    created: int = 0
    waiting: int = 0  # for the member's company, from their community profile
    retrying: int = 0
    failed: int = 0
    ambiguous: int = 0
    no_account: int = 0
    paused_until: datetime | None = None
    more: bool = False  # stopped with hand-offs still due (time budget, or Salesforce not answering)


def paused_until(*, now: datetime | None = None) -> datetime | None:
    """Until when the hand-off is paused (the org's daily API limit was reached); None: not paused."""
    until = cache.get(PAUSED_KEY)
    now = now or timezone.now()
    return until if until and until > now else None


def api_usage() -> ApiUsage | None:
    """The org's API usage as the latest reply reported it (Sforce-Limit-Info)."""
    return cache.get(USAGE_KEY)


def handoffs_run_due(
    *, client: SalesforceClient | None = None, budget_seconds: float | None = RUN_BUDGET_SECONDS
) -> RunReport:
    """Hand off the due rows, oldest first, until none is due, the budget is spent, Salesforce does
    not answer, or the org's API limit is reached (then everything pauses until the next hour)."""
    report = RunReport()
    report.paused_until = paused_until()
    if report.paused_until:
        return report
    client = client or SalesforceClient()
    limiter = RateLimiter(settings.CRM_REQUESTS_PER_SECOND)
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    while batch := _claim(_BATCH):
        for position, handoff in enumerate(batch):
            if deadline is not None and time.monotonic() > deadline:
                _unclaim(batch[position:])
                report.more = True
                return report
            _pace(limiter, client)
            outcome = handoff_one(client, handoff)
            if outcome != "paused":
                setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome in ("retrying", "paused"):  # Salesforce is not taking work: the rest wait too
                _unclaim(batch[position + 1 :])
                report.paused_until = paused_until()
                report.more = True
                return report
    return report


def _claim(limit: int) -> list[Handoff]:
    """Due rows, taken for CLAIM_SECONDS (rows another run holds are skipped)."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Handoff.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")[:limit]
        )
        if rows:
            Handoff.objects.filter(pk__in=[r.pk for r in rows]).update(
                next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)
            )
    return rows


def _unclaim(rows: list[Handoff]) -> None:
    if rows:
        waiting = Handoff.objects.filter(pk__in=[r.pk for r in rows], status=Status.PENDING)
        waiting.update(next_attempt_at=timezone.now())


def _pace(limiter: RateLimiter, client: SalesforceClient) -> None:
    """Wait for the next hand-off's turn: CRM_REQUESTS_PER_SECOND, or CRM_SLOW_REQUESTS_PER_SECOND once
    the org's usage passes CRM_SLOW_DOWN_AT_SHARE of its limit (the limit is shared with the org's
    other integrations: better slow than stopped)."""
    usage = client.last_usage or api_usage()
    slow = usage is not None and usage.share >= settings.CRM_SLOW_DOWN_AT_SHARE
    limiter.per_second_set(settings.CRM_SLOW_REQUESTS_PER_SECOND if slow else settings.CRM_REQUESTS_PER_SECOND)
    limiter.wait()


def handoff_one(client: SalesforceClient, handoff: Handoff) -> str:
    """Hand off one row and record the outcome: "created", "ambiguous", "no_account", "waiting"
    (for the member's profile), "retrying", "failed" or "paused"."""
    try:
        outcome = _handoff(client, handoff)
    except SalesforceLimitExceeded as exc:
        outcome = _pause(handoff, exc)
    except SalesforceRejected as exc:  # this Task only (a validation rule, a field): the others go on
        outcome = _failure_record(handoff, str(exc), retryable=False)
    except SalesforceError as exc:  # unavailable, timed out, credentials refused: on the schedule
        outcome = _failure_record(handoff, str(exc) or exc.__class__.__name__, retryable=True)
    finally:
        if client.last_usage is not None:
            cache.set(USAGE_KEY, client.last_usage, timeout=None)
    CRM_HANDOFFS.labels(outcome=outcome).inc()
    return outcome


def _handoff(client: SalesforceClient, handoff: Handoff) -> str:
    detection = Detection.objects.filter(pk=handoff.detection_id).first()
    if detection is None:
        return _failure_record(handoff, "the detection no longer exists", retryable=False)
    member = _member(detection.user_id)
    if not handoff.account_id:
        match = account_find(client, company=detection.company, email_domain=member.get("email_domain", ""))
        if match.ambiguous:
            names = "; ".join(f"{a['Name']} ({a['Id']})" for a in match.candidates)
            answer = f"several accounts match: {names}"
            _record(handoff, status=Status.AMBIGUOUS, candidates=match.candidates, answer=answer)
            return "ambiguous"
        if match.account is None and _waits_for_profile(detection, member):
            _record(handoff, next_attempt_at=timezone.now() + timedelta(seconds=PROFILE_WAIT_SECONDS))
            return "waiting"
        if match.account is None:
            what = f"company {detection.company!r}" if detection.company else "no company"
            domain = member.get("email_domain") or "no email domain"
            _record(handoff, status=Status.NO_ACCOUNT, answer=f"no account matches ({what}, {domain})")
            return "no_account"
        account = match.account
        _record(
            handoff,
            account_id=account["Id"],
            account_name=account.get("Name") or "",
            owner_id=account.get("OwnerId") or "",
            answer="account picked by an operator" if match.picked else "",
        )
    if handoff.create_sent_at is not None:  # an earlier create may have succeeded, its answer lost
        key_field = settings.CRM_TASK_KEY_FIELD  # checked at start: a field's API name
        found = client.query(f"SELECT Id FROM Task WHERE {key_field} = {soql_quote(handoff.key)} LIMIT 1")  # noqa: S608
        if found:
            return _created(handoff, found[0]["Id"], "found the Task an earlier try created (its answer was lost)")
    contact_id = _contact(client, detection.user_id, handoff.account_id)
    fields = task_fields(detection, handoff, contact_id=contact_id)
    _record(handoff, create_sent_at=timezone.now(), contact_id=contact_id)
    task_id = client.create("Task", fields)
    return _created(handoff, task_id, "Task created")


def _member(user_id: str) -> dict:
    """The senior member's email domain and whether their community profile is still to be read
    (a new member's company and email domain come from it, just after the detection)."""
    rows = members_rows(user_ids=[user_id], fields=["email_domain", "company", "enriched_at", "enrichment_error"])
    if not rows:
        return {}  # no longer senior: the detection's snapshot is all there is
    email_domain, company, enriched_at, enrichment_error = rows[0]
    unread = not (email_domain or company) and enriched_at is None and not enrichment_error
    return {"email_domain": email_domain, "profile_unread": unread and community_configured()}


def _waits_for_profile(detection: Detection, member: dict) -> bool:
    """Whether to try again shortly rather than record "no account": the member's company and email
    domain may be on their way (the enrichment reads the community profile after the detection),
    for at most PROFILE_WAIT_MAX_SECONDS."""
    recent = timezone.now() - detection.detected_at < timedelta(seconds=PROFILE_WAIT_MAX_SECONDS)
    return bool(member.get("profile_unread")) and not detection.company and recent


def _contact(client: SalesforceClient, user_id: str, account_id: str) -> str:
    """The Contact with the member's email, at the account: the WhoId. The address is read from the
    community now and not kept. None found, or the community not asked: no WhoId."""
    if not community_configured():
        return ""
    try:
        email = CommunityClient().user_get(user_id).get("email")
    except (CommunityError, OSError) as exc:
        logger.warning("crm: no email for member %s (%s): the Task goes without a contact", user_id, exc)
        return ""
    if not isinstance(email, str) or "@" not in email:
        return ""
    where = f"Email = {soql_quote(email.strip())} AND AccountId = {soql_quote(account_id)}"
    found = client.query(f"SELECT Id FROM Contact WHERE {where} LIMIT 1")  # noqa: S608 (values through soql_quote)
    return found[0]["Id"] if found else ""


def task_fields(detection: Detection, handoff: Handoff, *, contact_id: str) -> dict:
    """The Task: for the account's owner, about the account (and the contact, when one is known)."""
    name = detection.username or f"member {detection.user_id}"
    promoted = " (promoted from VP)" if detection.kind == Detection.Kind.PROMOTION else ""
    subject = f"Senior executive in the community: {name}, {detection.title}{promoted}"
    if len(subject) > SUBJECT_MAX:
        subject = f"Senior executive in the community: {name}, {detection.title}"[: SUBJECT_MAX - len(promoted) - 1]
        subject = f"{subject}…{promoted}"
    lines = [
        f"{name} is a senior executive in the customer community: {detection.title}.",
        f"Level: {detection.get_level_display()} · Function: {detection.get_function_display()}",
        f"Detected: {moment_text(detection.detected_at)}"
        + (" (promoted from VP to C-suite)" if promoted else " (first time senior)"),
    ]
    if detection.company:
        lines.append(f"Company in the community: {detection.company}")
    if profile := profile_url(detection.user_id, detection.username):
        lines.append(f"Community profile: {profile}")
    if correct := correct_url(detection.pk):
        lines.append(f"Not right? Correct it: {correct}")
    due = timezone.localdate(detection.detected_at) + timedelta(days=settings.CRM_TASK_DUE_DAYS)
    fields = {
        "Subject": subject,
        "Description": "\n".join(lines),
        "WhatId": handoff.account_id,
        "OwnerId": handoff.owner_id,
        "ActivityDate": due.isoformat(),
        "Status": settings.CRM_TASK_STATUS,
        "Priority": settings.CRM_TASK_PRIORITY,
        settings.CRM_TASK_KEY_FIELD: handoff.key,
    }
    if contact_id:
        fields["WhoId"] = contact_id
    if not handoff.owner_id:
        del fields["OwnerId"]  # the account has none readable: Salesforce gives the Task to the caller
    return fields


def _created(handoff: Handoff, task_id: str, answer: str) -> str:
    _record(handoff, status=Status.CREATED, task_id=task_id, answer=answer, last_error="", handed_off_at=timezone.now())
    logger.info("crm: %s: %s %s", handoff, answer, task_id)
    return "created"


def _pause(handoff: Handoff, exc: SalesforceLimitExceeded) -> str:
    """The org's daily API limit is reached: nothing is tried until the next hour. Not this row's
    fault, so its attempts do not count."""
    now = timezone.localtime()
    until = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    cache.set(PAUSED_KEY, until, timeout=int((until - now).total_seconds()) + 60)
    _record(handoff, next_attempt_at=until, last_error=f"paused until {moment_text(until)}: {exc}"[:2000])
    logger.error("crm: Salesforce API limit reached (%s): the hand-off pauses until %s", exc, moment_text(until))
    return "paused"


def _failure_record(handoff: Handoff, error: str, *, retryable: bool) -> str:
    attempts = handoff.attempts + 1
    retry = retry_at(settings.CRM_RETRY_SCHEDULE, attempts, timezone.now()) if retryable else None
    if retry is not None:
        _record(handoff, attempts=attempts, next_attempt_at=retry, last_error=error[:4000])
        logger.warning("crm: %s not handed off (%s); retrying", handoff, error)
        return "retrying"
    _record(handoff, status=Status.FAILED, attempts=attempts, last_error=error[:4000])
    logger.error("crm: %s failed: %s", handoff, error)
    return "failed"


def _record(handoff: Handoff, **values) -> None:
    values["updated_at"] = timezone.now()
    Handoff.objects.filter(pk=handoff.pk).update(**values)
    for name, value in values.items():
        setattr(handoff, name, value)


# --- What operators do ----------------------------------------------------------------------------


def handoffs_wake() -> None:
    from ..tasks import crm_handoffs_run

    task_enqueue_or_leave(crm_handoffs_run, what="the CRM hand-off")


def handoffs_retry(handoff_ids: list[int], *, user, via: str) -> int:
    """Failed, unmatched or ambiguous hand-offs are tried again now, matching afresh (audited: `crm.retry`)."""
    now = timezone.now()
    with transaction.atomic():
        retried = Handoff.objects.filter(pk__in=handoff_ids).exclude(status__in=[Status.CREATED, Status.PENDING])
        count = retried.update(
            status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now, account_id="", account_name="",
            owner_id="", candidates=[], last_error="",
        )  # fmt: skip
        audit_record(user, "crm.retry", via=via, target=f"{count} hand-offs", handoff_ids=handoff_ids)
        if count:
            transaction.on_commit(handoffs_wake)
    return count


def account_pick(handoff: Handoff, account_id: str, *, user, via: str) -> Handoff:
    """An operator picks the account of an ambiguous hand-off, among its candidates: the hand-off goes
    ahead with it, and the pick is remembered for the member's email domain and company (audited:
    `crm.pick_account`)."""
    chosen = next((a for a in handoff.candidates if a.get("Id") == account_id), None)
    if chosen is None:
        raise ValueError(f"{account_id} is not one of the accounts this hand-off matched")
    detection = Detection.objects.get(pk=handoff.detection_id)
    email_domain = _member(detection.user_id).get("email_domain", "")
    now = timezone.now()
    with transaction.atomic():
        for key in pick_keys(company=detection.company, email_domain=email_domain):
            AccountPick.objects.update_or_create(
                match_key=key,
                defaults={
                    "account_id": account_id,
                    "account_name": chosen.get("Name") or "",
                    "picked_by": user.get_username() if user else "",
                    "picked_at": now,
                },
            )
        _record(
            handoff,
            status=Status.PENDING,
            account_id=account_id,
            account_name=chosen.get("Name") or "",
            owner_id=chosen.get("OwnerId") or "",
            attempts=0,
            next_attempt_at=now,
            answer=f"account picked by {user.get_username() if user else 'the command line'}",
        )
        audit_record(
            user, "crm.pick_account", via=via, target=handoff, account_id=account_id, account=chosen.get("Name")
        )
        transaction.on_commit(handoffs_wake)
    return handoff


def crm_sync(*, since: datetime, user, via: str, now: datetime | None = None) -> tuple[int, RunReport]:
    """Hand off what is missing since `since`, now and to the end (audited: `crm.sync`): hand-offs for
    the detections without one, then every due hand-off. Returns (hand-offs added, the run's report)."""
    found = handoffs_find(since=since, now=now)
    report = handoffs_run_due(budget_seconds=None)
    audit_record(
        user,
        "crm.sync",
        via=via,
        target=f"since {moment_text(since)}",
        added=found,
        created=report.created,
        ambiguous=report.ambiguous,
        no_account=report.no_account,
        failed=report.failed,
    )
    return found, report


def account_picks_forget(pick_ids: list[int], *, user, via: str) -> int:
    """Operators' picks forgotten: the next detection at that company or domain is matched afresh
    (audited: `crm.forget_pick`)."""
    with transaction.atomic():
        picks = AccountPick.objects.filter(pk__in=pick_ids)
        keys = sorted(picks.values_list("match_key", flat=True))
        picks.delete()
        audit_record(user, "crm.forget_pick", via=via, target=f"{len(keys)} picked accounts", match_keys=keys)
    return len(keys)
