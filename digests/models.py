from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from classification.models import Function, Level
from core.dates import day_text
from detections.models import Detection


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    TEAMS = "teams", "Microsoft Teams"


class AudienceQuerySet(models.QuerySet):
    def live(self) -> AudienceQuerySet:
        """Audiences not deleted (a deleted audience with digests is kept, archived, for its history)."""
        return self.filter(archived_at__isnull=True)

    def receiving(self, stream: str) -> AudienceQuerySet:
        """Live, active audiences whose cadence takes `stream` (Receipt.Stream)."""
        cadences = CADENCES_OF_STREAM[stream]
        return self.live().filter(is_active=True, cadence__in=cadences)


class Audience(models.Model):
    """Who hears about which executives, where, and how soon.

    A filter (empty lists match everything) is read against the member as they are when a digest
    or alert is built; the detection kinds against each detection. Channels are delivered through
    the same Automation Anywhere bots as every digest.
    """

    class Cadence(models.TextChoices):
        WEEKLY = "weekly", "Weekly digest"
        REALTIME = "realtime", "Real-time alerts"
        BOTH = "both", "Both: real-time alerts and the weekly digest"

    name = models.CharField(max_length=100, unique=True)
    levels = ArrayField(
        models.CharField(max_length=10, choices=Level.choices),
        blank=True,
        default=list,
        help_text="Levels it hears about; none ticked: every senior level.",
    )
    functions = ArrayField(
        models.CharField(max_length=20, choices=Function.choices),
        blank=True,
        default=list,
        help_text="Functions it hears about (what the executive runs: finance, sales, …); none ticked: every function.",
    )
    kinds = ArrayField(
        models.CharField(max_length=10, choices=Detection.Kind.choices),
        blank=True,
        default=list,
        help_text="Detection kinds it hears about; none ticked: both.",
    )
    countries = CountryField(multiple=True, blank=True, help_text="Members' countries; none chosen: every country.")
    companies = ArrayField(
        models.CharField(max_length=255),
        blank=True,
        default=list,
        help_text="Company names or email domains (acme.com also matches eu.acme.com), one per line; none: every "
        "company. A domain matches members whose community profile gave an email.",
    )
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.WEEKLY)
    alerts_per_hour = models.PositiveSmallIntegerField(
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Real-time alert messages at most in a clock hour (New York); what comes after waits for the next "
        "hour and goes as one summary.",
    )
    email_to = ArrayField(models.EmailField(), blank=True, default=list, help_text="Email recipients, one per line.")
    teams_webhook_url = models.URLField(
        max_length=2000, blank=True, help_text="A Teams Workflows webhook (its query string is a secret)."
    )
    use_settings_channels = models.BooleanField(
        default=False,
        help_text="Deliver where the environment says (DIGEST_CHANNELS, DIGEST_EMAIL_TO, DIGEST_TEAMS_WEBHOOK_URL) "
        "instead of the channels above: how the audience made at installation keeps today's behaviour.",
    )
    starts_at = models.DateTimeField(
        default=timezone.now, help_text="It hears about detections made from this moment (set it back to catch up)."
    )
    is_active = models.BooleanField(default=True, help_text="Untick to pause it: nothing is built for it meanwhile.")
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted: kept for the history of its digests, never sent to again."
    )
    # How far back a build must look for detections it has not received (a day before its previous
    # build); None: from starts_at. Set back to None when the filter or the start changes.
    digest_scanned_from = models.DateTimeField(null=True, blank=True, editable=False)
    alert_scanned_from = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AudienceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(use_settings_channels=True) | ~Q(email_to=[]) | ~Q(teams_webhook_url=""),
                name="audience_has_a_channel",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse an audience nobody would hear from: one without a channel, or a Teams webhook that
        is not https (its URL carries a signature)."""
        errors = {}
        self.email_to = [address.strip() for address in self.email_to if address.strip()]
        self.companies = [entry.strip() for entry in self.companies if entry.strip()]
        self.teams_webhook_url = self.teams_webhook_url.strip()
        if not (self.use_settings_channels or self.email_to or self.teams_webhook_url):
            errors["email_to"] = "Give at least one email recipient or a Teams webhook: an audience needs a channel."
        if self.teams_webhook_url and urlsplit(self.teams_webhook_url).scheme != "https":
            errors["teams_webhook_url"] = "The Teams webhook must be an https:// URL."
        errors.update(self._limits_check())
        if errors:
            raise ValidationError(errors)

    def _limits_check(self) -> dict[str, str]:
        """Every build reads each audience's filter for every candidate: the limits keep Friday's
        build, the every-minute alerts and the send preview within a second (docs/audiences.md)."""
        errors = {}
        if len(self.companies) > settings.AUDIENCE_COMPANIES_MAX:
            errors["companies"] = (
                f"At most {settings.AUDIENCE_COMPANIES_MAX} companies or domains per audience "
                f"(AUDIENCE_COMPANIES_MAX); this has {len(self.companies)}."
            )
        if self.pk is None and Audience.objects.live().count() >= settings.AUDIENCES_MAX:
            errors["name"] = f"At most {settings.AUDIENCES_MAX} audiences (AUDIENCES_MAX): delete one first."
        return errors

    @property
    def weekly(self) -> bool:
        return self.cadence in CADENCES_OF_STREAM["digest"]

    @property
    def realtime(self) -> bool:
        return self.cadence in CADENCES_OF_STREAM["alert"]


CADENCES_OF_STREAM = {
    "digest": (Audience.Cadence.WEEKLY, Audience.Cadence.BOTH),
    "alert": (Audience.Cadence.REALTIME, Audience.Cadence.BOTH),
}


class Digest(models.Model):
    """What went out together to one audience: its Receipts say which detections it carries.

    Friday's scheduled build makes each weekly audience's one `weekly` digest; an operator's "send
    now" makes `extra` ones, which neither replace nor delay Friday's. A real-time audience gets
    `alert` digests within minutes, and a `summary` of what came over its hourly cap. A build with
    nothing to send records no digest.
    """

    class Kind(models.TextChoices):
        WEEKLY = "weekly", "Weekly (Friday's scheduled build)"
        EXTRA = "extra", "Extra (sent now by an operator)"
        ALERT = "alert", "Real-time alert"
        SUMMARY = "summary", "Alert summary (over the hourly cap)"

    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="digests")
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
                fields=["audience", "week_ending"],
                condition=Q(kind="weekly"),
                name="one_weekly_digest_per_audience_and_friday",
            ),
        ]
        indexes = [models.Index(fields=["audience", "kind", "built_at"], name="digest_audience_built")]

    def __str__(self) -> str:
        audience = self.audience.name if self.audience_id else "?"
        if self.kind == self.Kind.WEEKLY:
            return f"Weekly digest for {day_text(self.week_ending)} · {audience}"
        if self.kind == self.Kind.EXTRA:
            return f"Extra digest #{self.pk} (week ending {day_text(self.week_ending)}) · {audience}"
        return f"{self.get_kind_display()} #{self.pk} · {audience}"


class Receipt(models.Model):
    """An audience's copy of a detection: the digest (or alert) that carried it, or why it was left out.

    One per audience, detection and stream: a weekly digest and real-time alerts are separate
    streams, so an audience that asks for both gets a detection in each. Whatever happens to the
    delivery (sent, retried, dead, resent) is its digest's deliveries'.
    """

    class Stream(models.TextChoices):
        DIGEST = "digest", "Digest (weekly or extra)"
        ALERT = "alert", "Real-time alert"

    class LeftOut(models.TextChoices):
        NOT_SENIOR = "not_senior", "No longer senior when it was built"
        NOT_CSUITE = "not_csuite", "Back to VP when it was built: the promotion no longer held"

    # No database constraints: checking three foreign keys for each of a Friday's 36,000 receipts at
    # commit was a sixth of twenty audiences' build (make bench-digest). Receipts are written by the
    # build's one INSERT, with ids it holds in the same transaction, and leave with their audience,
    # detection or digest through Django's CASCADE (nothing deletes those rows in SQL).
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="receipts", db_constraint=False)
    detection = models.ForeignKey(Detection, on_delete=models.CASCADE, related_name="receipts", db_constraint=False)
    stream = models.CharField(max_length=10, choices=Stream.choices)
    digest = models.ForeignKey(
        Digest, null=True, blank=True, on_delete=models.CASCADE, related_name="receipts", db_constraint=False
    )
    chunk = models.PositiveIntegerField(null=True, blank=True)
    left_out = models.CharField(max_length=12, choices=LeftOut.choices, blank=True)

    class Meta:
        # Led by the detection, it also finds a detection's receipts (what processing and the API ask),
        # and an audience's among a build's candidates: one index for both, as a Friday writes 36,000.
        constraints = [
            models.UniqueConstraint(
                fields=["detection", "audience", "stream"], name="one_receipt_per_detection_audience_and_stream"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audience} · {self.stream} · detection {self.detection_id}"


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
        CANCELLED = "cancelled", "Cancelled (its audience was deleted)"

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
    # db_default: the build inserts deliveries with its own INSERT (digests.services.build_writes.deliveries_insert).
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
        where = f"a{self.digest.audience_id}-{self.channel}-{self.chunk}of{self.chunk_count}"
        return f"captpathfinder-digest-{week}{kind}-{where}-d{self.pk}"


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
