"""An operator corrects a member's level: applied at once through the member state machine, held
while the title stays, remembered as a confirmed label for the rules."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from access.services import audit_record
from classification.models import ConfirmedLabel

from ..locks import members_lock
from ..models import MemberPin, SeniorMember
from .members import MemberChange, MemberStates


class CorrectionError(ValueError):
    """The correction cannot apply; the message says why, for the operator."""


def member_correct(*, user_id: str, level: str, note: str = "", user=None, via: str) -> str:
    """Set a current senior member to `level` ("csuite", "vp" or "none": not a senior executive).

    The member is pinned to the correction (MemberPin) and their current title goes through the
    state machine as a webhook's would, so the same transitions follow: "none" removes them (their
    detections not yet sent are then left out of digests), VP → C-suite records a promotion, and
    C-suite → VP leaves a pending promotion out. The title and level become a confirmed label.
    Returns the outcome (RawEvent.Outcome).
    """
    if level not in MemberPin.Level.values:
        raise CorrectionError(f"unknown level {level!r}: one of {', '.join(MemberPin.Level.values)}")
    with transaction.atomic():
        members_lock([user_id])
        member = SeniorMember.objects.filter(pk=user_id).first()
        if member is None:
            raise CorrectionError(
                f"member {user_id} is not a current senior executive: a correction applies to a current member"
            )
        title = member.title.strip()
        MemberPin.objects.update_or_create(
            user_id=user_id, defaults={"title": title, "level": level, "note": note.strip(), "created_by": _user(user)}
        )
        states = MemberStates([user_id], now=timezone.now())
        change = MemberChange(user_id=user_id, title=title, username=member.username, seen_at=member.last_seen_at)
        outcome = states.apply(change)
        states.save()
        ConfirmedLabel.objects.update_or_create(
            title=title[:500], defaults={"level": level, "note": note.strip(), "created_by": _user(user)}
        )
        audit_record(user, "member.correct", via=via, target=f"member {user_id} ({title[:100]})", level=level,
                     previous_level=member.level, outcome=outcome, note=note.strip())  # fmt: skip
    return outcome


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None
