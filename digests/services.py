"""Weekly digests: build them once, deliver every chunk on every channel, lose nothing."""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.metrics import DELIVERIES
from core.schedules import SCHEDULES
from detections.models import Detection

from . import rendering, selectors
from .backends import DeliveryError, backend_get
from .models import Channel, ChannelCircuit, Digest, DigestDelivery

logger = logging.getLogger(__name__)
Status = DigestDelivery.Status
RENDERERS = {Channel.EMAIL: rendering.email_render, Channel.TEAMS: rendering.teams_render}


def channels_enabled() -> dict[str, object]:
    """The renderers of the enabled channels: a digest has deliveries on these only."""
    return {channel: RENDERERS[channel] for channel in rendering.channels_enabled()}


def _address_of(delivery: DigestDelivery) -> dict:
    """Where a delivery goes: the recipients it was built with, else today's settings (an
    operator who set them after the build need not rebuild)."""
    content = delivery.content
    if content.get("recipients") or content.get("webhook_url"):
        return content
    return rendering.channel_address(delivery.channel)


def delivery_address(delivery: DigestDelivery) -> None:
    """Give a delivery built without recipients today's, or raise DeliveryError: a delivery is
    never sent to nobody."""
    address = _address_of(delivery)
    if address is delivery.content:
        return
    if not (address.get("recipients") or address.get("webhook_url")):
        setting = rendering.RECIPIENT_SETTINGS[delivery.channel]
        raise DeliveryError(
            f"no recipients: {setting} is empty (set it, or leave {delivery.channel} out of DIGEST_CHANNELS)"
        )
    delivery.content = {**delivery.content, **address}
    DigestDelivery.objects.filter(pk=delivery.pk).update(content=delivery.content)


def delivery_address_text(delivery: DigestDelivery) -> str:
    """Where a delivery goes, for an operator (as sending will address it)."""
    return rendering.address_text(delivery.channel, _address_of(delivery))


def week_ending_for(moment: datetime) -> date:
    """The Friday, in America/New_York, of the week `moment` falls in (Saturday starts a week)."""
    day = moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    return day + timedelta(days=(4 - day.weekday()) % 7)


def friday_of_run(moment: datetime) -> date:
    """The Friday whose scheduled build a run at `moment` is: the latest Friday build time
    (17:00 New York, core/schedules.py) at or before it. A build retried after midnight, or run
    by hand on Sunday, is that Friday's; one run by hand on Friday morning is the Friday before's,
    so it cannot use up the evening's."""
    hour = int(next(s for s in SCHEDULES if s.task == selectors.WEEKLY_TASK).crontab[1])
    day = (moment.astimezone(ZoneInfo(settings.TIME_ZONE)) - timedelta(hours=hour)).date()
    return day - timedelta(days=(day.weekday() - 4) % 7)


@dataclass
class Build:
    """What a build did. `digest` is None when there was nothing to send (nothing recorded)."""

    digest: Digest | None
    built_now: bool  # False: Friday's digest was already built, and is returned as it was
    detection_ids: list[int] = field(default_factory=list)  # carried by this build
    left_out: dict[int, str] = field(default_factory=dict)  # detection id → why (Detection.LeftOut)
    waiting_ids: list[int] = field(default_factory=list)  # still waiting after it
    next_weekly_at: datetime | None = None


def digest_build_weekly(*, now: datetime | None = None, freeze_gc: bool = False) -> Build:
    """Friday's digest: every detection waiting at this moment. Once per Friday: run again (a
    second beat, a retry, by hand) it returns the Friday's digest as built."""
    return digest_build(Digest.Kind.WEEKLY, now=now, freeze_gc=freeze_gc)


def digest_build_extra(*, now: datetime | None = None) -> Build:
    """An operator's "send now": an extra digest of what is waiting, beside Friday's."""
    return digest_build(Digest.Kind.EXTRA, now=now)


def digest_build(kind: str, *, now: datetime | None = None, freeze_gc: bool = False) -> Build:
    """Build a digest of every detection waiting at `now`: one row per member (selectors.rows_compose).

    Atomic: the waiting detections are locked while it is built, so a detection goes into one
    digest only, however many builds run at once. A weekly digest's row (unique per Friday) is
    created first and locked, so a second build for the Friday waits and then finds it built;
    with nothing to send it is deleted before the commit, so an empty build records nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if kind == Digest.Kind.WEEKLY:
            friday = friday_of_run(now)
            Digest.objects.get_or_create(kind=kind, week_ending=friday)
            digest = Digest.objects.select_for_update().get(kind=kind, week_ending=friday)
            if digest.built_at is not None:
                return _build_result(digest, built_now=False, now=now)
        else:
            digest = Digest(kind=kind, week_ending=week_ending_for(now))
        with _long_lived_objects_frozen(enabled=freeze_gc):
            composition = selectors.rows_compose(selectors.detections_waiting(until=now, lock=True))
            if freeze_gc:
                gc.freeze()  # and the rows just composed
            _left_out_mark(composition.left_out)
            if composition.rows:
                _digest_fill(digest, composition, now)
        if not composition.rows:
            if digest.pk is not None:
                digest.delete()
            logger.info("%s digest: nothing to send (%d left out)", kind, len(composition.left_out))
            return _build_result(None, built_now=True, now=now, carried=[], left_out=composition.left_out)
    logger.info(
        "%s built: %d detections, %d members, %d chunks",
        digest,
        digest.detection_count,
        digest.member_count,
        digest.chunk_count,
    )
    return _build_result(
        digest, built_now=True, now=now, carried=composition.detection_ids, left_out=composition.left_out
    )


@contextmanager
def _long_lived_objects_frozen(*, enabled: bool):
    """Keep the garbage collector off the objects that live through a build. A 10,000-detection
    build allocates millions of short-lived objects while rendering; each full collection
    walked every row and entry kept for the whole build, a fifth of its time. Frozen objects
    are skipped (gc.freeze) until the build ends.

    gc.freeze acts on the whole process, so only a process doing nothing else asks for it: the
    Celery task (a prefork child runs one task at a time), not the web server's threads."""
    if not enabled:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _digest_fill(digest: Digest, composition: selectors.Composition, now: datetime) -> None:
    """Render the rows into chunks, one delivery per chunk and channel, and link the detections."""
    digest.covers_from = min(d.detected_at for row in composition.rows for d in row.detections)
    covers = rendering.digest_covers(digest.covers_from, now)
    chunks = rendering.chunks_pack([row.entry for row in composition.rows])
    digest.built_at = now
    digest.detection_count = len(composition.detection_ids)
    digest.member_count = len(composition.rows)
    digest.left_out_count = len(composition.left_out)
    digest.chunk_count = len(chunks)
    digest.save()
    chunk_of, rows = {}, iter(composition.rows)
    deliveries = []
    for number, chunk in enumerate(chunks, start=1):
        for _ in chunk:
            chunk_of.update(dict.fromkeys((d.id for d in next(rows).detections), number))
        for channel, render in channels_enabled().items():
            content = render(chunk, covers=covers, chunk=number, chunk_count=len(chunks))
            deliveries.append(
                DigestDelivery(
                    digest=digest,
                    channel=channel,
                    chunk=number,
                    chunk_count=len(chunks),
                    content=content,
                    next_attempt_at=now,
                )
            )
    _detections_link(digest, chunk_of)
    _deliveries_insert(deliveries)


def _left_out_mark(left_out: dict[int, str]) -> None:
    for reason in set(left_out.values()):
        Detection.objects.filter(pk__in=[pk for pk, why in left_out.items() if why == reason]).update(left_out=reason)


def nothing_built(*, now: datetime | None = None) -> Build:
    """No build: what is waiting, and when Friday's digest takes it."""
    return _build_result(None, built_now=False, now=now or timezone.now(), carried=[])


def _build_result(
    digest: Digest | None, *, built_now: bool, now: datetime, carried: list[int] | None = None, left_out=None
) -> Build:
    if carried is None:
        carried = list(digest.detections.filter(digest_chunk__isnull=False).values_list("pk", flat=True))
    return Build(
        digest=digest,
        built_now=built_now,
        detection_ids=carried,
        left_out=left_out or {},
        waiting_ids=list(Detection.objects.waiting().order_by("detected_at", "id").values_list("pk", flat=True)),
        next_weekly_at=selectors.weekly_build_next_run(now=now),
    )


def _detections_link(digest: Digest, chunk_of: dict[int, int]) -> None:
    """Point each detection at its digest and chunk in one statement (bulk_update's per-row CASE
    took seconds for a 10,000-detection week)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE detections_detection AS d SET digest_id = %s, digest_chunk = v.chunk "
            "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, chunk) WHERE d.id = v.id",
            [digest.pk, list(chunk_of), list(chunk_of.values())],
        )


def _deliveries_insert(deliveries: list[DigestDelivery]) -> None:
    """Insert the rendered deliveries with server-side parameters: Django's client-side binding
    escaped the megabytes of rendered content character by character."""
    from psycopg.types.json import Jsonb

    now = timezone.now()
    rows = [
        (d.digest_id, d.channel, d.chunk, d.chunk_count, Jsonb(d.content), d.next_attempt_at, now, now)
        for d in deliveries
    ]
    with connection.connection.cursor() as cursor:  # psycopg's own cursor: server-side binding
        cursor.executemany(
            "INSERT INTO digests_digestdelivery (digest_id, channel, chunk, chunk_count, content, status, attempts, "
            "next_attempt_at, last_error, deployment_id, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, 'pending', 0, %s, '', '', %s, %s)",
            rows,
        )


def build_summary(build: Build) -> str:
    """What a build did, for the operator who asked (admin message, command output, task result)."""
    digest, local = build.digest, ZoneInfo(settings.TIME_ZONE)
    if digest is None:
        text = "Nothing to send: no digest was recorded."
    elif not build.built_now:
        text = f"{digest} was already built on {digest.built_at.astimezone(local):%b %d at %H:%M %Z}; nothing changed."
    else:
        text = (
            f"{digest}: {_count(digest.detection_count, 'detection')} "
            f"({_count(digest.member_count, 'member')}) in {_count(digest.chunk_count, 'chunk')}, being sent."
        )
    if build.left_out:
        text += f" {_count(len(build.left_out), 'detection')} left out: no longer true when built."
    if build.next_weekly_at is None:
        going = "the weekly digest is paused"
    else:
        going = f"going out with the weekly digest on {build.next_weekly_at.astimezone(local):%a %b %d at %H:%M %Z}"
    return f"{text} {_count(len(build.waiting_ids), 'detection')} waiting, {going}."


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def digest_build_and_send(
    kind: str = Digest.Kind.WEEKLY, *, now: datetime | None = None, freeze_gc: bool = False
) -> Build:
    """Build a digest and have its deliveries sent once it is committed: what Friday's schedule
    (weekly), and the admin's, the API's and the command's "send now" (extra) do."""
    with transaction.atomic():
        build = digest_build(kind, now=now, freeze_gc=freeze_gc)
        if build.digest is not None and build.built_now:
            transaction.on_commit(deliveries_send_enqueue)
    return build


def deliveries_send_enqueue() -> None:
    from .tasks import deliveries_send_due

    try:
        deliveries_send_due.delay()
    except Exception:  # the every-minute beat run picks them up; nothing is lost
        logger.warning("could not enqueue digest sending; the periodic run will", exc_info=True)


# --- Sending ---------------------------------------------------------------------------------------


@dataclass
class SendReport:
    deployed: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


def deliveries_send_due(*, now: datetime | None = None, limit: int = 100) -> SendReport:
    """Send due deliveries one by one until none is due, the limit is reached, or circuits open.

    Each delivery is claimed with SELECT … FOR UPDATE SKIP LOCKED and leased for
    DIGEST_SEND_LEASE_SECONDS, so concurrent senders never send one delivery at the same time;
    a sender that dies leaves its claim to expire and the delivery is sent again.
    """
    report = SendReport()
    backend = backend_get()
    for _ in range(limit):
        moment = now or timezone.now()
        delivery = _claim_next(moment)
        if delivery is None:
            break
        try:
            delivery_address(delivery)
        except DeliveryError as exc:  # not the channel's fault: its circuit is left alone
            status = delivery_failure_record(delivery, str(exc), now or timezone.now(), channel_failed=False)
            (report.dead if status == Status.DEAD else report.failed).append(delivery.pk)
            continue
        try:
            deployment_id = backend.send(delivery)
        except DeliveryError as exc:
            status = delivery_failure_record(delivery, str(exc), now or timezone.now())
            (report.dead if status == Status.DEAD else report.failed).append(delivery.pk)
        else:
            if backend.reports_runs:  # the Control Room queued a bot run: sent once it completes
                _record_deployed(delivery, deployment_id, now or timezone.now())
                report.deployed.append(delivery.pk)
            else:
                delivery_sent_record(delivery, now or timezone.now(), deployment_id=deployment_id)
                report.sent.append(delivery.pk)
    return report


def _claim_next(now: datetime) -> DigestDelivery | None:
    with transaction.atomic():
        blocked = _channels_blocked(now)
        due = Q(status__in=[Status.PENDING, Status.RETRYING], next_attempt_at__lte=now) | Q(
            status=Status.SENDING, claimed_until__lt=now
        )
        delivery = (
            DigestDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("digest")
            .filter(due)
            .exclude(channel__in=blocked)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        _circuit_admit(delivery.channel, now)
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.claimed_until = now + timedelta(seconds=settings.DIGEST_SEND_LEASE_SECONDS)
        delivery.save(update_fields=["status", "attempts", "claimed_until", "updated_at"])
        return delivery


def _record_deployed(delivery: DigestDelivery, deployment_id: str, now: datetime) -> None:
    """The Control Room took the deploy: the channel answers (circuit closed); its run is read later."""
    with transaction.atomic():
        _deployed_update(delivery, deployment_id, now)
        _circuit_close(delivery.channel)
    DELIVERIES.labels(channel=delivery.channel, outcome="deployed").inc()
    logger.info("delivery %s deployed (deployment %s): waiting for the bot run", delivery.pk, deployment_id)


def _deployed_update(delivery: DigestDelivery, deployment_id: str, now: datetime) -> None:
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.DEPLOYED,
        deployment_id=deployment_id[:255],
        deployed_at=now,
        run_status="",
        run_message="",
        run_checked_at=None,
        claimed_until=None,
        last_error="",
        updated_at=now,
    )


def delivery_sent_record(
    delivery: DigestDelivery, now: datetime, *, deployment_id: str | None = None, current: dict | None = None, **run
) -> bool:
    """The delivery went out (its bot run completed, or the console wrote it): sent, circuit closed.
    With `current` (e.g. deployed with this deployment id) only a delivery still in that state is
    changed; returns whether it was."""
    with transaction.atomic():
        values = {"deployment_id": deployment_id[:255]} if deployment_id is not None else {}
        changed = DigestDelivery.objects.filter(pk=delivery.pk, **(current or {})).update(
            status=Status.SENT, sent_at=now, claimed_until=None, last_error="", updated_at=now, **values, **run
        )
        if not changed:
            return False
        _circuit_close(delivery.channel)
    DELIVERIES.labels(channel=delivery.channel, outcome="sent").inc()
    logger.info("delivery %s sent (deployment %s)", delivery.pk, deployment_id or delivery.deployment_id)
    return True


def delivery_failure_record(
    delivery: DigestDelivery,
    error: str,
    now: datetime,
    *,
    current: dict | None = None,
    channel_failed: bool = True,
    **run,
) -> str | None:
    """A failed attempt (the deploy, or its bot run): retried on the schedule, dead after the last.
    Returns the new status, or None when `current` no longer matched (someone else moved it on).
    `channel_failed` False: our configuration, not the channel, failed; its circuit is left alone."""
    schedule = settings.DIGEST_RETRY_SCHEDULE
    if delivery.attempts > len(schedule):
        status, next_attempt = Status.DEAD, now
    else:
        status, next_attempt = Status.RETRYING, now + timedelta(seconds=schedule[delivery.attempts - 1])
    with transaction.atomic():
        changed = DigestDelivery.objects.filter(pk=delivery.pk, **(current or {})).update(
            status=status,
            next_attempt_at=next_attempt,
            claimed_until=None,
            last_error=error[:2000],
            updated_at=now,
            **run,
        )
        if not changed:
            return None
        if channel_failed:
            _circuit_failure(delivery.channel, now)
    DELIVERIES.labels(channel=delivery.channel, outcome="dead" if status == Status.DEAD else "failed").inc()
    logger.warning("delivery %s failed (attempt %d, now %s): %s", delivery.pk, delivery.attempts, status, error)
    return status


# --- Circuit breaker -----------------------------------------------------------------------------


def _circuit_close(channel: str) -> None:
    ChannelCircuit.objects.update_or_create(
        channel=channel,
        defaults={
            "state": ChannelCircuit.State.CLOSED,
            "consecutive_failures": 0,
            "opened_until": None,
            "open_count": 0,
        },
    )


def _channels_blocked(now: datetime) -> list[str]:
    """Channels not to call now: open and still pausing, or half-open with a probe in flight."""
    return list(
        ChannelCircuit.objects.filter(
            state__in=[ChannelCircuit.State.OPEN, ChannelCircuit.State.HALF_OPEN], opened_until__gt=now
        ).values_list("channel", flat=True)
    )


def _circuit_admit(channel: str, now: datetime) -> None:
    """An open circuit whose pause is over lets exactly one delivery through as a probe."""
    circuit = ChannelCircuit.objects.select_for_update().filter(channel=channel).first()
    if circuit and circuit.state != ChannelCircuit.State.CLOSED:
        circuit.state = ChannelCircuit.State.HALF_OPEN
        circuit.opened_until = now + timedelta(seconds=settings.DIGEST_SEND_LEASE_SECONDS)
        circuit.save(update_fields=["state", "opened_until", "updated_at"])


def _circuit_failure(channel: str, now: datetime) -> None:
    circuit, _ = ChannelCircuit.objects.select_for_update().get_or_create(channel=channel)
    circuit.consecutive_failures += 1
    if (
        circuit.state == ChannelCircuit.State.HALF_OPEN
        or circuit.consecutive_failures >= settings.DIGEST_CIRCUIT_FAILURES
    ):
        pause = min(
            settings.DIGEST_CIRCUIT_PAUSE_SECONDS * 2**circuit.open_count, settings.DIGEST_CIRCUIT_MAX_PAUSE_SECONDS
        )
        circuit.state = ChannelCircuit.State.OPEN
        circuit.opened_until = now + timedelta(seconds=pause)
        circuit.open_count += 1
        logger.warning("circuit for %s opened for %ds after %d failures", channel, pause, circuit.consecutive_failures)
    circuit.save()


# --- Operator actions ----------------------------------------------------------------------------


def deliveries_make_due(*, delivery_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Send now: pending and retrying deliveries become due immediately (dead ones need a resend)."""
    queryset = DigestDelivery.objects.filter(status__in=[Status.PENDING, Status.RETRYING])
    if delivery_ids is not None:
        queryset = queryset.filter(pk__in=delivery_ids)
    return queryset.update(next_attempt_at=now or timezone.now())


def deliveries_resend(*, delivery_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Dead deliveries (or the chosen ones, whatever their state but sending) get a fresh start."""
    queryset = DigestDelivery.objects.exclude(status=Status.SENDING)
    queryset = queryset.filter(pk__in=delivery_ids) if delivery_ids is not None else queryset.filter(status=Status.DEAD)
    return queryset.update(status=Status.PENDING, attempts=0, next_attempt_at=now or timezone.now(), claimed_until=None)
