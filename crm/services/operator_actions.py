"""What operators do to hand-offs (admin, command): retry, pick the account, forget a pick, sync.
Each records its audit entry in its own transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from core.dates import moment_text
from detections.models import Detection

from ..models import AccountPick, Handoff
from ..selectors import detections_without_task
from .handoffs import RunReport, handoffs_find, handoffs_run_due, handoffs_wake, member_email_domain
from .matching import pick_key

Status = Handoff.Status
RETRIED = (Status.FAILED, Status.NO_ACCOUNT, Status.AMBIGUOUS)


def _requeue(handoff_ids: list[int]) -> int:
    """These failed, unmatched or ambiguous hand-offs due now, matching the account afresh; a create
    already sent stays recorded, so its Task is looked for first."""
    now = timezone.now()
    return (
        Handoff.objects.filter(pk__in=handoff_ids, status__in=RETRIED)
        .update(status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now, account_id="",
                account_name="", owner_id="", candidates=[], last_error="")
    )  # fmt: skip


def handoffs_retry(handoff_ids: list[int], *, user, via: str) -> int:
    """Failed, unmatched or ambiguous hand-offs are tried again now (audited: `crm.retry`)."""
    with transaction.atomic():
        retried = list(Handoff.objects.filter(pk__in=handoff_ids, status__in=RETRIED).values_list("pk", flat=True))
        count = _requeue(retried)
        audit_record(user, "crm.retry", via=via, target=f"{count} hand-offs", handoff_ids=retried)
        if count:
            transaction.on_commit(handoffs_wake)
    return count


def account_pick(handoff: Handoff, account_id: str, *, user, via: str) -> Handoff:
    """An operator picks the account of an ambiguous hand-off, among its candidates: the hand-off goes
    ahead with it, and the pick is remembered for what made the match ambiguous: the member's email
    domain, or else their company (audited: `crm.pick_account`)."""
    with transaction.atomic():
        handoff = Handoff.objects.select_for_update().get(pk=handoff.pk)
        if handoff.status != Status.AMBIGUOUS:  # picked already (a second click, another operator)
            raise ValueError(f"this hand-off is no longer waiting for a pick ({handoff.get_status_display()})")
        chosen = next((a for a in handoff.candidates if a.get("Id") == account_id), None)
        if chosen is None:
            raise ValueError(f"{account_id} is not one of the accounts this hand-off matched")
        detection = Detection.objects.get(pk=handoff.detection_id)
        key = pick_key(
            handoff.candidates, company=detection.company, email_domain=member_email_domain(detection.user_id)
        )
        who = user.get_username() if user else ""
        now = timezone.now()
        if key:
            AccountPick.objects.update_or_create(
                match_key=key,
                defaults={"account_id": account_id, "account_name": chosen.get("Name") or "", "picked_by": who,
                          "picked_at": now},
            )  # fmt: skip
        values = {
            "status": Status.PENDING,
            "account_id": account_id,
            "account_name": chosen.get("Name") or "",
            "owner_id": chosen.get("OwnerId") or "",
            "attempts": 0,
            "next_attempt_at": now,
            "updated_at": now,
            "answer": f"account picked by {who or 'the command line'}",
        }
        Handoff.objects.filter(pk=handoff.pk).update(**values)
        for name, value in values.items():
            setattr(handoff, name, value)
        audit_record(user, "crm.pick_account", via=via, target=handoff, account_id=account_id,
                     account=chosen.get("Name"), remembered_for=key)  # fmt: skip
        transaction.on_commit(handoffs_wake)
    return handoff


def account_picks_forget(pick_ids: list[int], *, user, via: str) -> int:
    """Operators' picks forgotten: the next detection at that company or domain is matched afresh
    (audited: `crm.forget_pick`)."""
    with transaction.atomic():
        picks = AccountPick.objects.filter(pk__in=pick_ids)
        keys = sorted(picks.values_list("match_key", flat=True))
        picks.delete()
        audit_record(user, "crm.forget_pick", via=via, target=f"{len(keys)} picked accounts", match_keys=keys)
    return len(keys)


def crm_sync(*, since: datetime, user, via: str, now: datetime | None = None) -> tuple[int, int, RunReport]:
    """Hand off what is missing since `since`, now and to the end (audited: `crm.sync`): a hand-off for
    each detection without one, the failed and unmatched ones again, then every due hand-off.
    Returns (hand-offs added, hand-offs tried again, the run's report)."""
    found = handoffs_find(since=since, now=now)
    stuck = detections_without_task(since=since).filter(
        salesforce_handoff__status__in=[Status.FAILED, Status.NO_ACCOUNT]
    )
    requeued = _requeue(list(stuck.values_list("salesforce_handoff__pk", flat=True)))
    report = handoffs_run_due(budget_seconds=None)
    audit_record(
        user,
        "crm.sync",
        via=via,
        target=f"since {moment_text(since)}",
        added=found,
        retried=requeued,
        created=report.created,
        ambiguous=report.ambiguous,
        no_account=report.no_account,
        failed=report.failed,
    )
    return found, requeued, report
