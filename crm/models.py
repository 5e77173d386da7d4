"""The hand-off's outbox (one row per detection handed off) and the accounts operators picked."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from detections.models import Detection


class Handoff(models.Model):
    """A detection on its way to the account owner's Salesforce Task.

    Written by the run that finds the detection (never by the webhook), then by the run that hands
    it off. `create_sent_at` is set, and committed, before each Task create is sent: a row that has
    it was maybe created already (its answer lost), so the next try looks for the Task by its key
    (`key`, in the Task's CRM_TASK_KEY_FIELD) before creating: one Task per detection.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be handed off"
        CREATED = "created", "Task created"
        AMBIGUOUS = "ambiguous", "Ambiguous account: an operator picks"
        NO_ACCOUNT = "no_account", "No account matched"
        FAILED = "failed", "Failed: needs an operator"

    detection = models.OneToOneField(
        Detection, on_delete=models.CASCADE, related_name="salesforce_handoff", db_constraint=False
    )
    key = models.CharField(max_length=64, unique=True, help_text="Ours, written on the Task to find it again.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    account_id = models.CharField(max_length=18, blank=True)
    account_name = models.CharField(max_length=255, blank=True)
    owner_id = models.CharField(max_length=18, blank=True)
    contact_id = models.CharField(max_length=18, blank=True)
    task_id = models.CharField(max_length=18, blank=True)
    candidates = models.JSONField(default=list, blank=True, help_text="The accounts that matched, when several did.")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    create_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    answer = models.TextField(blank=True, help_text="What Salesforce answered, or what was decided.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    handed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CRM hand-off"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="crm_handoff_due", condition=models.Q(status="pending"))
        ]
        permissions = [
            ("retry_handoff", "Can retry CRM hand-offs"),
            ("pick_account", "Can pick the account of a CRM hand-off"),
        ]

    def __str__(self) -> str:
        return f"hand-off of detection #{self.detection_id}"

    @property
    def task_url(self) -> str:
        """The Task in Salesforce: the org's classic record link, which Lightning redirects."""
        if not self.task_id:
            return ""
        return f"{settings.SALESFORCE_LOGIN_URL.rstrip('/')}/{self.task_id}"


class AccountPick(models.Model):
    """An operator's pick among ambiguous accounts, remembered for the company name or email domain
    it was made for: the next detection at that company goes to the same account."""

    match_key = models.CharField(max_length=300, unique=True, help_text="domain:acme.com, or company:acme")
    account_id = models.CharField(max_length=18)
    account_name = models.CharField(max_length=255, blank=True)
    picked_by = models.CharField(max_length=150, blank=True)
    picked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "picked account"

    def __str__(self) -> str:
        return f"{self.match_key} → {self.account_name or self.account_id}"
