from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    TEAMS = "teams", "Microsoft Teams"


class Digest(models.Model):
    """A digest: what went out together. The detections it carries point at it (Detection.digest).

    Friday's scheduled build makes the week's one `weekly` digest; an operator's "send now"
    makes an `extra` one, which neither replaces nor delays Friday's. A build with nothing to
    send records no digest.
    """

    class Kind(models.TextChoices):
        WEEKLY = "weekly", "Weekly (Friday's scheduled build)"
        EXTRA = "extra", "Extra (sent now by an operator)"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEEKLY)
    week_ending = models.DateField(
        help_text="The Friday (America/New_York) of the week it is for: its scheduled run, or the week an extra "
        "digest was sent in."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    covers_from = models.DateTimeField(
        null=True, blank=True, help_text="When the earliest detection it carries was made (it covers up to built_at)."
    )
    detection_count = models.PositiveIntegerField(default=0, help_text="Detections it carries.")
    member_count = models.PositiveIntegerField(default=0, help_text="Its rows: one per member, in their latest state.")
    left_out_count = models.PositiveIntegerField(
        default=0, help_text="Detections left out: the member was no longer senior (or no longer C-suite)."
    )
    chunk_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-week_ending", "-id"]
        permissions = [("send_digest", "Can send digests: an extra digest, deliveries now or again")]
        constraints = [
            models.UniqueConstraint(
                fields=["week_ending"], condition=Q(kind="weekly"), name="one_weekly_digest_per_friday"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.EXTRA:
            return f"Extra digest #{self.pk} (week ending {self.week_ending:%Y-%m-%d})"
        return f"Weekly digest for {self.week_ending:%Y-%m-%d}"


class DigestDelivery(models.Model):
    """One chunk of a digest on one channel: what is sent to one Automation Anywhere bot run.

    The content is rendered when the digest is built and never changes, so a preview, a retry
    and a resend all send exactly the same message.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DEPLOYED = "deployed", "Deployed: bot run not finished"
        SENT = "sent", "Sent (bot run completed)"
        RETRYING = "retrying", "Failed, will retry"
        DEAD = "dead", "Dead (retries exhausted)"

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    chunk = models.PositiveIntegerField(help_text="1-based chunk number within the digest.")
    chunk_count = models.PositiveIntegerField()
    content = models.JSONField(help_text="The rendered message: subject/html/text/recipients, or the Teams card.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the worker sending it.")
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    deployment_id = models.CharField(max_length=255, blank=True)
    deployed_at = models.DateTimeField(null=True, blank=True, help_text="When the Control Room queued the bot run.")
    # db_default: the build inserts deliveries with its own INSERT (digests.services._deliveries_insert).
    run_status = models.CharField(
        max_length=40, blank=True, db_default="", help_text="The bot run's status as the Control Room last reported it."
    )
    run_message = models.TextField(
        blank=True, db_default="", help_text="What the Control Room said about the run, if anything."
    )
    run_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-digest__week_ending", "chunk", "channel"]
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint(fields=["digest", "chunk", "channel"], name="one_delivery_per_chunk_and_channel"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=Q(status__in=["pending", "retrying", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest} · {self.get_channel_display()} {self.chunk}/{self.chunk_count}"

    @property
    def automation_name(self) -> str:
        """Names the bot run in the Control Room, so each delivery can be traced there."""
        week = f"{self.digest.week_ending:%Y%m%d}"
        kind = "" if self.digest.kind == Digest.Kind.WEEKLY else f"-{self.digest.kind}"
        return f"captpathfinder-digest-{week}{kind}-{self.channel}-{self.chunk}of{self.chunk_count}-d{self.pk}"


class ChannelCircuit(models.Model):
    """Circuit breaker per channel: stop calling a bot that keeps failing, probe it later."""

    class State(models.TextChoices):
        CLOSED = "closed", "Closed (sending)"
        OPEN = "open", "Open (paused after failures)"
        HALF_OPEN = "half_open", "Half-open (probing)"

    channel = models.CharField(max_length=10, choices=Channel.choices, primary_key=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_until = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0, help_text="Times opened in a row; lengthens the pause.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.get_state_display()}"
