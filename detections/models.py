from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from classification.models import ConfirmedLabel, Function, Level
from core.dates import moment_text


class TrackedField(models.Model):
    """A community profile field that matters (the original's field_registry).

    A `job_title` field drives classification. `country` and `company` fields update senior
    members; anyone else's are stored too, and a member made later starts from the latest.
    """

    class Role(models.TextChoices):
        JOB_TITLE = "job_title", "Job title"
        COUNTRY = "country", "Country"
        COMPANY = "company", "Company"

    name = models.CharField(max_length=255, unique=True, help_text="The profileField name the community sends.")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.JOB_TITLE)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RawEvent(models.Model):
    """A stored webhook delivery: the outbox that processing reads in order of receipt.

    Short-lived: housekeeping deletes events older than EVENTS_RETENTION_DAYS. Which events
    wait to be applied is kept in PendingEvent, not in an index on `processed_at`: see there.
    """

    class EventType(models.TextChoices):
        PROFILE_UPDATED = "integration.UserProfileUpdated"
        USER_REGISTERED = "IdentityAccess.UserRegistered"

    class Outcome(models.TextChoices):
        CREATED = "created", "Became senior (first detection)"
        PROMOTED = "promoted", "Promoted to C-suite"
        UPDATED = "updated", "Senior member updated"
        REMOVED = "removed", "No longer senior: removed"
        NOT_SENIOR = "not_senior", "Not senior"
        ATTRIBUTES_UPDATED = "attributes_updated", "Country/company updated"
        NOT_A_MEMBER = "not_a_member", "Attribute change for a non-member"
        PROFILE_UNAVAILABLE = "profile_unavailable", "Community profile could not be fetched"
        FAILED = "failed", "Failed: set aside until retried"

    event_type = models.CharField(max_length=64, choices=EventType.choices, default=EventType.PROFILE_UPDATED)
    delivery_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    user_id = models.CharField(max_length=64)
    username = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=255, blank=True)
    field_role = models.CharField(max_length=20, choices=TrackedField.Role.choices, blank=True)
    value = models.TextField(blank=True)
    old_value = models.TextField(blank=True)
    payload = models.JSONField()
    idempotency_key = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True)
    # A database default: the intake function (detections/sql/) inserts events without it.
    error = models.TextField(
        blank=True, db_default="", help_text="Why the event could not be applied (outcome: failed)."
    )

    class Meta:
        ordering = ["-id"]
        permissions = [("retry_rawevent", "Can retry events set aside")]
        indexes = [
            models.Index(fields=["user_id", "id"], name="rawevent_user_order"),
            models.Index(fields=["received_at"], name="rawevent_received"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.user_id} {self.field or self.event_type}"


class PendingEvent(models.Model):
    """A raw event not applied yet: stored with the event, deleted in the transaction that applies it.

    Pending events used to be found through a partial index on `processed_at IS NULL`. That made
    every processed mark a non-HOT update: a new row version with an entry in each of the raw
    event's indexes, beside the pages intake writes. Kept apart, the mark changes no indexed
    column, and with the free space migration 0006 leaves in each page it is a HOT update.
    The invariant: a row here exactly while its event's `processed_at` is null.
    """

    # No database constraint: checking it would lock the new raw event row at intake. Intake writes
    # both rows, processing removes the pending one, and deleting an event through Django (the
    # admin) removes its pending row too, so no member is left waiting for an event that is gone.
    event = models.OneToOneField(
        RawEvent, primary_key=True, on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    user_id = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    # A registration whose community profile could not be had for now (inSided down or not
    # reached): since when. Batches leave its member alone; the outbox sweep tries it once a minute.
    awaiting_community_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pending #{self.pk} {self.user_id}"


class SeniorMember(models.Model):
    """A current senior executive. Nobody else is stored (storage minimisation)."""

    user_id = models.CharField(max_length=64, primary_key=True)
    username = models.CharField(max_length=255, blank=True)
    title = models.TextField()
    level = models.CharField(max_length=10, choices=Level.choices)
    function = models.CharField(max_length=20, choices=Function.choices, default=Function.OTHER)
    country = models.CharField(max_length=255, blank=True)
    company = models.CharField(max_length=255, blank=True)
    # Only the domain of the email the community profile gives: what an audience's company filter
    # matches (an address would be personal data the service does not need).
    email_domain = models.CharField(max_length=255, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    first_detected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    rules_version = models.CharField(max_length=64)
    enriched_at = models.DateTimeField(null=True, blank=True)
    enrichment_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        permissions = [
            ("reclassify_seniormember", "Can reclassify members under the active rules"),
            ("correct_seniormember", "Can correct a member's level (not senior, VP, C-suite)"),
        ]
        indexes = [models.Index(fields=["level"], name="member_level")]

    def __str__(self) -> str:
        """Their name and title, the title cut short: it names the member in breadcrumbs and lists."""
        title = self.title if len(self.title) <= 40 else f"{self.title[:39].rstrip()}…"
        return f"{self.username or self.user_id} ({title})"


class MemberPin(models.Model):
    """An operator's correction of a member's level and function (or their marking of someone the
    rules missed), held while their title stays the one corrected.

    Processing applies the pinned level and function instead of the rules' for that title (none:
    not senior); the first title change removes the pin and the rules decide again. Kept apart
    from the member row because "not a senior executive" removes the member, and someone the rules
    missed has no member row until the pin makes one.
    """

    Level = ConfirmedLabel.Label  # a correction says what a confirmed label says

    user_id = models.CharField(max_length=64, primary_key=True)
    title = models.TextField(help_text="The title the correction is for (as stored, trimmed).")
    level = models.CharField(max_length=10, choices=Level.choices)
    # Blank: the rules read the function from the title (a correction of the level alone).
    function = models.CharField(max_length=20, choices=Function.choices, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_level_display()} while titled {self.title!r}"


class Detection(models.Model):
    """History: someone became senior (`first`) or moved from VP to C-suite (`promotion`).

    A snapshot of the member, not a foreign key: members are deleted when they stop
    being senior, and their detections must survive for digests and reports. Which audiences
    received it, in which digest or alert, is in digests.Receipt.
    """

    class Kind(models.TextChoices):
        FIRST = "first", "First detection"
        PROMOTION = "promotion", "Promotion to C-suite"

    user_id = models.CharField(max_length=64, db_index=True)
    username = models.CharField(max_length=255, blank=True)
    title = models.TextField()
    level = models.CharField(max_length=10, choices=Level.choices)
    function = models.CharField(max_length=20, choices=Function.choices, default=Function.OTHER)
    country = models.CharField(max_length=255, blank=True)
    company = models.CharField(max_length=255, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    detected_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When the row was written (detected_at is when its event arrived: a retried event, a backlog
    # or a backfill writes it later). Digest builds scan on this, so a late row is never skipped.
    recorded_at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)
    rules_version = models.CharField(max_length=64)
    event = models.ForeignKey(RawEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When an audience first took it (a digest or alert carried it, or a build left it out): from
    # then on the snapshot is what was sent, and no longer follows its member (services.members).
    # Set by the build through `detections_freeze`, so this app needs no other app's tables.
    frozen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-detected_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or self.user_id} ({self.title})"


class CommunityGrant(models.Model):
    """The write-back's outbox: a role or badge a member should hold in the community (`wanted`), or
    lose, until it is written there.

    One row per member and role or badge, kept after it is written (what the community was last
    told). A change of the member's seniority, or drift `community_sync` found, sets the row
    wanted/pending again and bumps `generation`; a writer records its outcome only on the
    generation it wrote, so a change made meanwhile is written next, never lost.
    """

    class Kind(models.TextChoices):
        ROLE = "role", "Role"
        BADGE = "badge", "Badge"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be written"
        DONE = "done", "Written"
        FAILED = "failed", "Failed: needs an operator"

    user_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=255, help_text="The role's name, or the badge's id.")
    wanted = models.BooleanField("should hold it", help_text="Whether the member should hold it (no: take it away).")
    reason = models.CharField(max_length=100, blank=True, help_text="What asked for the change.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    result = models.CharField(max_length=100, blank=True, help_text="What the community answered, once written.")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    generation = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    written_at = models.DateTimeField(null=True, blank=True)
    given_by_us = models.BooleanField(
        "given by the write-back",
        default=False,
        help_text="The write-back gave it (the member did not hold it before) and has not taken it away since: "
        "with COMMUNITY_WRITEBACK_TAKE_FROM=own, only these are taken away.",
    )

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "community write-back change"
        verbose_name_plural = "community write-back changes"
        permissions = [("retry_communitygrant", "Can retry community write-back changes")]
        constraints = [models.UniqueConstraint(fields=["user_id", "kind", "name"], name="communitygrant_unique")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="communitygrant_due", condition=models.Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.change_text} ({self.user_id})"

    @property
    def change_text(self) -> str:
        """'give role roles.Executives', 'take away badge 7'."""
        return f"{'give' if self.wanted else 'take away'} {self.get_kind_display().lower()} {self.name}"

    @property
    def outcome_text(self) -> str:
        """What the community answered; else the last error (whole: its end names the setting to fix),
        and when a change waiting for a retry is tried again."""
        if self.status == self.Status.DONE:
            return self.result
        retry = ""
        if self.status == self.Status.PENDING and self.attempts:
            retry = f"attempt {self.attempts + 1} at {moment_text(self.next_attempt_at)}: "
        return f"{retry}{self.last_error[:400]}" if self.last_error else "—"


class BackfillRun(models.Model):
    """One loading of the existing membership (CSV export or community API), resumable.

    `position` advances in the same transaction as each batch's writes, so a run stopped at
    any moment resumes exactly after the last committed batch and never applies a row twice.
    """

    class Source(models.TextChoices):
        CSV = "csv", "CSV export"
        COMMUNITY = "community", "Community API"

    class Mode(models.TextChoices):
        BASELINE = "baseline", "Baseline (no detections)"
        ANNOUNCE = "announce", "Announce (first detections)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running or interrupted"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=10, choices=Source.choices)
    source_key = models.CharField(
        max_length=500, help_text="What was loaded: the file and its version, or the filters."
    )
    mode = models.CharField(max_length=10, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    position = models.PositiveIntegerField(default=0, help_text="CSV rows or API pages done.")
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="The first bad rows, with their line numbers.")
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Backfill {self.pk} from {self.get_source_display()} ({self.status})"
