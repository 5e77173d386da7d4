"""The hand-off's outbox: detections become Handoff rows (`handoffs_find`), and each row becomes one
Salesforce Task for the Account's owner (`handoffs_run_due`). Runs on the worker, every minute and
when woken; the webhook never waits for Salesforce.

One run at a time (a lease in the cache, renewed before each hand-off): two runs would double the
rate and could each create the same Task.

Exactly once: Salesforce's create has no idempotency key, and a Task's custom field cannot be
relied on to be an External ID (activity fields), so upsert is not used. Each row has a key of its
own, written in the Task's CRM_TASK_KEY_FIELD. `create_sent_at` is committed before each create is
sent; a row that has it looks for its Task by that key before anything else, and does not send a
create again until LOST_ANSWER_WAIT_SECONDS after the last one (a slow create may still commit
after its answer timed out). An answer lost after Salesforce created the Task is therefore found,
never created twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.background import task_enqueue_or_leave
from core.dates import moment_text
from core.metrics import CRM_HANDOFFS
from core.rates import RateLimiter
from core.retries import retry_at
from detections.models import Detection
from detections.selectors import members_rows
from integrations.insided.client import CommunityClient, community_configured
from integrations.insided.errors import CommunityError
from integrations.salesforce.client import SalesforceClient, soql_quote
from integrations.salesforce.errors import SalesforceError, SalesforceLimitExceeded, SalesforceRejected

from ..models import Handoff
from ..selectors import PAUSED_KEY, USAGE_KEY, api_usage, detections_without_handoff, paused_until
from .matching import account_find
from .task_content import task_fields

logger = logging.getLogger(__name__)
Status = Handoff.Status

RUN_BUDGET_SECONDS = 50.0
_BATCH = 20
RUNNER_KEY = "crm:runner"
# The runner's lease, renewed before each hand-off: longer than one hand-off can take (a few calls,
# each SALESFORCE_TIMEOUT_SECONDS at most), so a live run keeps it and a dead one frees it soon.
RUNNER_LEASE_SECONDS = 120
LOST_ANSWER_WAIT_SECONDS = 180
# A new member's company and email domain arrive from their community profile just after the
# detection: a hand-off that finds no account before then tries again, for up to half an hour.
PROFILE_WAIT_SECONDS = 60
PROFILE_WAIT_MAX_SECONDS = 1800


def handoff_key(detection_id: int) -> str:
    return f"captpathfinder-detection-{detection_id}"


def handoffs_find(*, since: datetime | None = None, now: datetime | None = None) -> int:
    """A pending hand-off for each detection that should have one (from CRM_HANDOFF_LOOKBACK_HOURS
    back, or `since`); returns how many were added. Safe to run at once: the key is unique."""
    now = now or timezone.now()
    since = since or now - timedelta(hours=settings.CRM_HANDOFF_LOOKBACK_HOURS)
    added = 0
    while ids := list(detections_without_handoff(since=since).values_list("pk", flat=True)[:1000]):
        keys = [handoff_key(pk) for pk in ids]
        rows = [Handoff(detection_id=pk, key=key, next_attempt_at=now, created_at=now, updated_at=now)
                for pk, key in zip(ids, keys, strict=True)]  # fmt: skip
        Handoff.objects.bulk_create(rows, ignore_conflicts=True)  # one another run added meanwhile: kept
        added += Handoff.objects.filter(key__in=keys, created_at=now).count()
    return added


# --- Handing off ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    created: int = 0
    waiting: int = 0  # for the member's profile, or for a lost answer's Task to show
    retrying: int = 0
    failed: int = 0
    ambiguous: int = 0
    no_account: int = 0
    paused_until: datetime | None = None
    busy: bool = False  # another run holds the lease
    more: bool = False  # stopped with hand-offs still due (time budget, or Salesforce not answering)


def handoffs_run() -> dict:
    """The every-minute run: find new detections, hand off what is due, and carry on in a fresh
    task when the time budget ran out (not when Salesforce stopped it: that waits for its time)."""
    if not settings.CRM_HANDOFF_ENABLED:
        return {}
    found = handoffs_find()
    report = handoffs_run_due()
    if report.more and report.paused_until is None and not report.retrying:
        handoffs_wake()
    return {"found": found, **{name: value for name, value in vars(report).items() if name != "paused_until"}}


def handoffs_wake() -> None:
    from ..tasks import crm_handoffs_run

    task_enqueue_or_leave(crm_handoffs_run, what="the CRM hand-off")


def handoffs_run_due(
    *, client: SalesforceClient | None = None, budget_seconds: float | None = RUN_BUDGET_SECONDS
) -> RunReport:
    """Hand off the due rows, oldest first, until none is due, the budget is spent, Salesforce does
    not answer, or the org's API limit is reached (then everything pauses until the next hour)."""
    report = RunReport(paused_until=paused_until())
    if report.paused_until:
        return report
    with _runner_lease() as lease:
        if lease is None:
            report.busy = True
            return report
        client = client or SalesforceClient()
        limiter = RateLimiter(settings.CRM_TASKS_PER_SECOND)
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        while batch := list(_due()[:_BATCH]):
            for handoff in batch:
                if (deadline is not None and time.monotonic() > deadline) or not lease():
                    report.more = True
                    return report
                _pace(limiter, client)
                outcome = handoff_one(client, handoff)
                if outcome != "paused":
                    setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome in ("retrying", "paused"):  # Salesforce is not taking work: the rest wait too
                    report.paused_until = paused_until()
                    report.more = True
                    return report
    return report


def _due():
    return Handoff.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now()).order_by(
        "next_attempt_at", "pk"
    )


@contextmanager
def _runner_lease():
    """Yields a function that renews the lease and says whether it is still this run's, or None when
    another run holds it."""
    token = uuid.uuid4().hex
    if not cache.add(RUNNER_KEY, token, timeout=RUNNER_LEASE_SECONDS):
        yield None
        return

    def renew() -> bool:
        if cache.get(RUNNER_KEY) != token:
            logger.warning("crm: the run's lease was lost (a stall longer than %s s): stopping", RUNNER_LEASE_SECONDS)
            return False
        return cache.touch(RUNNER_KEY, RUNNER_LEASE_SECONDS)

    try:
        yield renew
    finally:
        if cache.get(RUNNER_KEY) == token:
            cache.delete(RUNNER_KEY)


def _pace(limiter: RateLimiter, client: SalesforceClient) -> None:
    """Wait for the next hand-off's turn: CRM_TASKS_PER_SECOND, or CRM_SLOW_TASKS_PER_SECOND once the
    org's usage passes CRM_SLOW_DOWN_AT_SHARE of its limit (the limit is shared with the org's other
    integrations: better slow than stopped)."""
    usage = client.last_usage or api_usage()
    slow = usage is not None and usage.share >= settings.CRM_SLOW_DOWN_AT_SHARE
    limiter.per_second_set(settings.CRM_SLOW_TASKS_PER_SECOND if slow else settings.CRM_TASKS_PER_SECOND)
    limiter.wait()


def handoff_one(client: SalesforceClient, handoff: Handoff) -> str:
    """Hand off one row and record the outcome: "created", "ambiguous", "no_account", "waiting",
    "retrying", "failed" or "paused". One row's trouble never stops the others for good."""
    try:
        outcome = _handoff(client, handoff)
    except SalesforceLimitExceeded as exc:
        outcome = _pause(handoff, exc)
    except SalesforceRejected as exc:  # this Task only (a validation rule, a field): the others go on
        outcome = _failure_record(handoff, str(exc), retryable=False)
    except SalesforceError as exc:  # unavailable, timed out, credentials refused: on the schedule
        outcome = _failure_record(handoff, str(exc) or exc.__class__.__name__, retryable=True)
    except Exception as exc:  # our own bug or bad data: recorded and retried on the schedule, not looped on
        logger.exception("crm: %s failed unexpectedly", handoff)
        outcome = _failure_record(handoff, f"unexpected error: {exc.__class__.__name__}: {exc}", retryable=True)
    finally:
        if client.last_usage is not None:
            cache.set(USAGE_KEY, client.last_usage, timeout=None)
    CRM_HANDOFFS.labels(outcome=outcome).inc()
    return outcome


def _handoff(client: SalesforceClient, handoff: Handoff) -> str:
    if handoff.create_sent_at is not None:  # an earlier create may have succeeded, its answer lost
        if task_id := _task_by_key(client, handoff):
            return _created(handoff, task_id, "found the Task an earlier try created (its answer was lost)")
        resend_at = handoff.create_sent_at + timedelta(seconds=LOST_ANSWER_WAIT_SECONDS)
        if timezone.now() < resend_at:  # a slow create may still commit: look again before sending another
            _record(handoff, next_attempt_at=resend_at)
            return "waiting"
    detection = Detection.objects.filter(pk=handoff.detection_id).first()
    if detection is None:
        return _failure_record(handoff, "the detection no longer exists", retryable=False)
    member = _member(detection.user_id)
    if not handoff.account_id:
        outcome = _account_match(client, handoff, detection, member)
        if outcome:
            return outcome
    contact_id = _contact(client, detection.user_id, handoff.account_id)
    fields = task_fields(detection, handoff, contact_id=contact_id)
    if not _create_sent_mark(handoff, contact_id=contact_id):
        _record(handoff, next_attempt_at=timezone.now() + timedelta(seconds=LOST_ANSWER_WAIT_SECONDS))
        return "waiting"  # another run sent a create meanwhile (it lost its lease): its Task is looked for
    try:
        task_id = client.create("Task", fields)
    except SalesforceRejected:  # refused (400): certainly not created, so a retry need not look for it
        _record(handoff, create_sent_at=None)
        raise
    return _created(handoff, task_id, "Task created")


def _task_by_key(client: SalesforceClient, handoff: Handoff) -> str:
    key_field = settings.CRM_TASK_KEY_FIELD  # checked at start: a custom field's API name
    found = client.query(f"SELECT Id FROM Task WHERE {key_field} = {soql_quote(handoff.key)} LIMIT 1")  # noqa: S608
    return found[0]["Id"] if found else ""


def _account_match(client: SalesforceClient, handoff: Handoff, detection: Detection, member: dict) -> str:
    """Record the account found on the row; or the outcome when there is none to hand off to yet."""
    match = account_find(client, company=detection.company, email_domain=member.get("email_domain", ""))
    if match.ambiguous:
        names = "; ".join(f"{a['Name']} ({a['Id']})" for a in match.candidates)
        _record(
            handoff, status=Status.AMBIGUOUS, candidates=match.candidates, answer=f"several accounts match: {names}"
        )
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
    return ""


def _create_sent_mark(handoff: Handoff, *, contact_id: str) -> bool:
    """Record, and commit, that a create goes out now; False when another run marked the row since it
    was read (then that run's create is looked for, not repeated)."""
    now = timezone.now()
    rows = Handoff.objects.filter(pk=handoff.pk, status=Status.PENDING, create_sent_at=handoff.create_sent_at)
    if handoff.create_sent_at is None:
        rows = Handoff.objects.filter(pk=handoff.pk, status=Status.PENDING, create_sent_at__isnull=True)
    if not rows.update(create_sent_at=now, contact_id=contact_id, updated_at=now):
        return False
    handoff.create_sent_at, handoff.contact_id = now, contact_id
    return True


def _member(user_id: str) -> dict:
    """The senior member's email domain and whether their community profile is still to be read
    (a new member's company and email domain come from it, just after the detection)."""
    rows = members_rows(user_ids=[user_id], fields=["email_domain", "company", "enriched_at", "enrichment_error"])
    if not rows:
        return {}  # no longer senior: the detection's snapshot is all there is
    email_domain, company, enriched_at, enrichment_error = rows[0]
    unread = not (email_domain or company) and enriched_at is None and not enrichment_error
    return {"email_domain": email_domain, "profile_unread": unread and community_configured()}


def member_email_domain(user_id: str) -> str:
    return _member(user_id).get("email_domain", "")


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


def _created(handoff: Handoff, task_id: str, answer: str) -> str:
    _record(handoff, status=Status.CREATED, task_id=task_id, answer=answer, last_error="", handed_off_at=timezone.now())
    logger.info("crm: %s: %s %s", handoff, answer, task_id)
    return "created"


def _pause(handoff: Handoff, exc: SalesforceLimitExceeded) -> str:
    """The org's daily API limit is reached: nothing is tried until the next hour (in UTC: an hour
    is an hour across the clock changes). Not this row's fault, so its attempts do not count."""
    now = datetime.now(tz=UTC)
    until = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    cache.set(PAUSED_KEY, until, timeout=int((until - now).total_seconds()) + 60)
    _record(handoff, next_attempt_at=until, last_error=f"paused until {moment_text(until)}: {exc}"[:4000])
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
