from datetime import UTC, datetime

import factory
from django.db import connection
from django.utils import timezone

from detections.models import CommunityGrant, Detection, PendingEvent, RawEvent, SeniorMember
from digests.models import Audience


class SeniorMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeniorMember

    user_id = factory.Sequence(lambda n: str(10_000 + n))
    username = factory.Faker("name")
    title = "VP of Sales"
    level = "vp"
    first_detected_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)
    rules_version = "test"


class DetectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Detection

    user_id = factory.Sequence(lambda n: str(20_000 + n))
    username = factory.Faker("name")
    title = "VP of Sales"
    level = "vp"
    kind = "first"
    rules_version = "test"
    detected_at = factory.LazyFunction(timezone.now)
    # Processing writes a detection as its event is applied: at its time, give or take seconds.
    recorded_at = factory.SelfAttribute("detected_at")


def joined_at_stored_raw(model, user_id: str, moment: str) -> None:
    """Set a member's or detection's joined_at as a row written before the range was checked
    (core.dates): by SQL, past the service's own checks."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET joined_at = %s::timestamptz WHERE user_id = %s",  # noqa: S608
            [moment, user_id],
        )


class RawEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RawEvent
        skip_postgeneration_save = True

    user_id = factory.Sequence(lambda n: str(30_000 + n))
    field = "Job Title"
    field_role = "job_title"
    value = "VP of Sales"
    payload = factory.LazyAttribute(lambda o: {"userId": o.user_id, "profileField": o.field, "value": o.value})
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")

    @factory.post_generation
    def pending(event, create, extracted, **kwargs):
        """An unprocessed event is pending, as intake leaves it."""
        if create and event.processed_at is None:
            PendingEvent.objects.create(event=event, user_id=event.user_id, received_at=event.received_at)


class SeniorDetectionFactory(DetectionFactory):
    """A detection of someone who is senior now, as processing leaves it: the member row is
    created, or brought to the detection's state (so a later promotion makes them C-suite)."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def member(detection, create, extracted, **kwargs):
        if create:
            SeniorMember.objects.update_or_create(
                user_id=detection.user_id,
                defaults={
                    "username": detection.username,
                    "title": detection.title,
                    "level": detection.level,
                    "function": detection.function,
                    "company": detection.company,
                    "country": detection.country,
                    "first_detected_at": detection.detected_at,
                    "last_seen_at": detection.detected_at,
                    "rules_version": detection.rules_version,
                },
            )


class AudienceFactory(factory.django.DjangoModelFactory):
    """An audience with its own email recipients, hearing about detections from 2000 on (tests date
    detections in the past)."""

    class Meta:
        model = Audience

    name = factory.Sequence(lambda n: f"Audience {n}")
    email_to = factory.LazyAttribute(lambda o: [f"{o.name.lower().replace(' ', '-')}@example.com"])
    starts_at = datetime(2000, 1, 1, tzinfo=UTC)


def everyone_audience() -> Audience:
    """The audience migration digests/0007 makes (a test that flushes the database loses it)."""
    audience, _ = Audience.objects.get_or_create(
        name="Everyone",
        defaults={"use_settings_channels": True, "cadence": "weekly", "starts_at": datetime(2000, 1, 1, tzinfo=UTC)},
    )
    return audience


class CommunityGrantFactory(factory.django.DjangoModelFactory):
    """A write-back change: by default the role given to a VP."""

    class Meta:
        model = CommunityGrant

    user_id = factory.Sequence(lambda n: str(80 + n))
    kind = "role"
    name = "roles.Executives"
    wanted = True
    reason = "senior (vp)"
    status = "done"
    result = "role given"


class FailedBadgeGrantFactory(CommunityGrantFactory):
    """A badge change that failed because the community has no such badge."""

    kind = "badge"
    name = "99"
    status = "failed"
    result = ""
    attempts = 1
    last_error = factory.LazyAttribute(
        lambda g: (
            f"badge 99 for user {g.user_id}: HTTP 404 (no such user, or no such role or badge); the member "
            "exists, so the community has no badge '99' (COMMUNITY_WRITEBACK_BADGE_ID)"
        )
    )
