"""What the Task says and whom it is for: the account owner's, about the account and the contact."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.dates import moment_text
from detections.links import correct_url, profile_url
from detections.models import Detection

from ..models import Handoff

SUBJECT_MAX = 255  # Task.Subject's length


def task_fields(detection: Detection, handoff: Handoff, *, contact_id: str) -> dict:
    """The Task's fields: subject, description, the account (WhatId), its owner, the contact (WhoId)
    when one is known, due CRM_TASK_DUE_DAYS after the hand-off, and the hand-off's key."""
    name = detection.username or f"member {detection.user_id}"
    promoted = " (promoted from VP)" if detection.kind == Detection.Kind.PROMOTION else ""
    subject = f"Senior executive in the community: {name}, {detection.title}{promoted}"
    if len(subject) > SUBJECT_MAX:
        cut = f"Senior executive in the community: {name}, {detection.title}"[: SUBJECT_MAX - len(promoted) - 1]
        subject = f"{cut}…{promoted}"
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
    # From the day it reaches the owner: a hand-off that waited (a pick, an outage) is not born overdue.
    due = timezone.localdate() + timedelta(days=settings.CRM_TASK_DUE_DAYS)
    fields = {
        "Subject": subject,
        "Description": "\n".join(lines),
        "WhatId": handoff.account_id,
        "ActivityDate": due.isoformat(),
        "Status": settings.CRM_TASK_STATUS,
        "Priority": settings.CRM_TASK_PRIORITY,
        settings.CRM_TASK_KEY_FIELD: handoff.key,
    }
    if handoff.owner_id:  # none readable: Salesforce gives the Task to the integration user
        fields["OwnerId"] = handoff.owner_id
    if contact_id:
        fields["WhoId"] = contact_id
    return fields
