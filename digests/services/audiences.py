"""Managing audiences: one path for the admin and the API, audited, and loud about mistakes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from core.querysets import keyset_chunks
from detections.models import SeniorMember

from ..matching import AudienceFilter
from ..models import Audience, DigestDelivery
from ..selectors import LATE_COMMIT_MARGIN

Status = DigestDelivery.Status
# What decides which detections an audience gets: a change means its next build looks again from its start.
FILTER_FIELDS = ("levels", "functions", "kinds", "countries", "companies", "starts_at")
IN_FLIGHT = (Status.PENDING, Status.RETRYING, Status.SENDING, Status.DEPLOYED)
CANCELLABLE = (Status.PENDING, Status.RETRYING)


def audience_matching_members(audience: Audience) -> int:
    """How many current senior members the audience's filter matches (kinds aside)."""
    audience_filter = AudienceFilter.of(audience)
    members = SeniorMember.objects.values_list("level", "function", "country", "company", "email_domain", "pk")
    chunks = keyset_chunks(members, order=("pk",), key_of=lambda row: (row[-1],), chunk_size=5000)
    return sum(1 for values in chunks if audience_filter.member_matches(_Member(*values[:-1])))


@dataclass(frozen=True)
class _Member:
    level: str
    function: str
    country: str
    company: str
    email_domain: str


def audience_warnings(audience: Audience) -> list[str]:
    """What is allowed but probably a mistake."""
    warnings = []
    if not audience.is_active:
        warnings.append("The audience is paused: nothing is built for it until it is active again.")
    if audience.is_active and audience_matching_members(audience) == 0:
        warnings.append(
            "No current senior member matches this filter: it will get nothing until one does. "
            "Check the functions, the countries and the company names or domains."
        )
    return warnings


def audience_save(audience: Audience, *, user, via: str) -> list[str]:
    """Validate and save an audience (new or changed); returns its warnings.

    Where its builds look (Audience.digest_scanned_from, alert_scanned_from): a changed filter or
    start makes the next weekly build look again at everything since its start; alerts are news,
    so a changed filter, a resumed audience or a newly asked-for stream starts from now, never
    with a flood of what came before. A newly asked-for weekly digest starts from now too.
    """
    audience.full_clean()
    now = timezone.now()
    with transaction.atomic():
        created = audience.pk is None
        if not created:
            before = Audience.objects.select_for_update().get(pk=audience.pk)
            filtered = any(getattr(before, name) != getattr(audience, name) for name in FILTER_FIELDS)
            if filtered:
                audience.digest_scanned_from = None
            if not before.weekly and audience.weekly:
                audience.digest_scanned_from = now - LATE_COMMIT_MARGIN
            resumed = audience.is_active and not before.is_active
            if audience.realtime and (filtered or resumed or not before.realtime):
                audience.alert_scanned_from = now - LATE_COMMIT_MARGIN
        elif audience.realtime:
            audience.alert_scanned_from = max(audience.starts_at, now - LATE_COMMIT_MARGIN)
        audience.save()
        audit_record(user, "audience.create" if created else "audience.change", via=via, target=audience,
                     audience=audience.pk, cadence=audience.cadence)  # fmt: skip
    return audience_warnings(audience)


class AudienceBusy(Exception):
    """Deliveries of the audience are in flight; deleting it must say what becomes of them."""

    def __init__(self, audience: Audience, count: int) -> None:
        super().__init__(
            f"The audience {audience.name!r} has {count} deliveries in flight. Delete it with them cancelled "
            "(pending and retrying ones are cancelled; those already handed to the bot finish), or wait."
        )
        self.count = count


@dataclass
class Deletion:
    archived: bool  # kept for the history of its digests (else removed)
    cancelled: list[int]
    finishing: list[int]  # handed to the bot already: they finish


def audience_in_flight(audience: Audience):
    return DigestDelivery.objects.filter(digest__audience=audience, status__in=IN_FLIGHT)


def audience_delete(audience: Audience, *, user, via: str, cancel_in_flight: bool = False) -> Deletion:
    """Delete an audience. Deliveries in flight are never dropped silently: without
    `cancel_in_flight` they refuse the deletion (AudienceBusy); with it, pending and retrying ones
    are cancelled (status and last error say so; dead ones too, so nobody revives them) and those
    handed to the bot finish (one that fails then is cancelled, not retried). An audience with
    digests is archived, so their history stays; one without is removed."""
    with transaction.atomic():
        audience = Audience.objects.select_for_update().get(pk=audience.pk)
        in_flight = audience_in_flight(audience).select_for_update()
        ids = list(in_flight.values_list("pk", "status"))
        if ids and not cancel_in_flight:
            raise AudienceBusy(audience, len(ids))
        now = timezone.now()
        dead = DigestDelivery.objects.filter(digest__audience=audience, status=Status.DEAD).values_list("pk", flat=True)
        cancelled = [pk for pk, status in ids if status in CANCELLABLE] + list(dead)
        DigestDelivery.objects.filter(pk__in=cancelled).update(
            status=Status.CANCELLED,
            last_error=f"cancelled: the audience {audience.name!r} was deleted by {_who(user)} ({via})",
            updated_at=now,
        )
        archived = audience.digests.exists()
        audit_record(user, "audience.delete", via=via, target=audience, audience=audience.pk, archived=archived,
                     cancelled=cancelled, finishing=[pk for pk, _ in ids if pk not in cancelled])  # fmt: skip
        if archived:
            Audience.objects.filter(pk=audience.pk).update(
                archived_at=now, is_active=False, name=f"{audience.name[:60]} (deleted #{audience.pk}, {now:%Y-%m-%d})"
            )
        else:
            audience.delete()
    return Deletion(archived, cancelled, [pk for pk, _ in ids if pk not in cancelled])


def _who(user) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else "the command line"
