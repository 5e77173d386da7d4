"""Building digests and alerts: for each audience, what it has not received, once."""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from access.services import audit_record
from core.weeks import friday_of_run, week_ending_for
from detections.services.members import detections_freeze

from .. import addresses, rendering, selectors
from ..models import Audience, Channel, Digest, DigestDelivery, Receipt

logger = logging.getLogger(__name__)
RENDERERS = {Channel.EMAIL: rendering.email_render, Channel.TEAMS: rendering.teams_render}
STREAM_OF_KIND = {
    Digest.Kind.WEEKLY: Receipt.Stream.DIGEST,
    Digest.Kind.EXTRA: Receipt.Stream.DIGEST,
    Digest.Kind.ALERT: Receipt.Stream.ALERT,
    Digest.Kind.SUMMARY: Receipt.Stream.ALERT,
}


@dataclass
class AudienceBuild:
    """What a build did for one audience. `digest` None: nothing to send (nothing recorded)."""

    audience: Audience
    digest: Digest | None
    built_now: bool  # False: its Friday digest was already built and is returned as it was
    detection_ids: list[int] = field(default_factory=list)  # carried by this build
    left_out: dict[int, str] = field(default_factory=dict)  # detection id → why (Receipt.LeftOut)
    held: int = 0  # alerts: detections waiting for the coalescing window or the next hour's cap
    error: str = ""  # the build failed for this audience (the others went on)


@dataclass
class Build:
    """What a build did for every audience it was for."""

    kind: str
    audiences: list[AudienceBuild] = field(default_factory=list)
    next_weekly_at: datetime | None = None

    @property
    def digest(self) -> Digest | None:
        """The one digest, for a build that made at most one (an installation with one audience)."""
        digests = self.digests
        if len(digests) > 1:
            raise ValueError(f"the build made {len(digests)} digests, one per audience: use .digests")
        return digests[0] if digests else None

    @property
    def digests(self) -> list[Digest]:
        return [item.digest for item in self.audiences if item.digest is not None]

    @property
    def detection_ids(self) -> list[int]:
        return list(dict.fromkeys(pk for item in self.audiences for pk in item.detection_ids))

    @property
    def left_out(self) -> dict[int, str]:
        return {pk: why for item in self.audiences for pk, why in item.left_out.items()}

    @property
    def built_now(self) -> bool:
        return any(item.built_now and item.digest is not None for item in self.audiences)


def digest_build_weekly(*, now: datetime | None = None, freeze_gc: bool = False) -> Build:
    """Friday's digests: for every weekly audience, what it has not received. Once per audience and
    Friday: run again (a second beat, a retry, by hand) it returns the Friday's digests as built."""
    return digest_build(Digest.Kind.WEEKLY, now=now, freeze_gc=freeze_gc)


def digest_build_extra(*, now: datetime | None = None, audience_ids: list[int] | None = None) -> Build:
    """An operator's "send now": extra digests of what the weekly audiences (or those chosen) have
    not received, beside Friday's."""
    return digest_build(Digest.Kind.EXTRA, now=now, audience_ids=audience_ids)


def digest_build(
    kind: str, *, now: datetime | None = None, freeze_gc: bool = False, audience_ids: list[int] | None = None
) -> Build:
    """Build a weekly or extra digest for each weekly audience (or those of `audience_ids`).

    The candidate detections and their members are read once for all audiences; each audience is
    then built in its own transaction, holding its row locked, so one audience's failure does not
    hold up the others and a detection goes to an audience once however many builds run at once.
    A database error is raised after the other audiences are built (the task retries; what was
    built is not built again).
    """
    now = now or timezone.now()
    audiences = Audience.objects.receiving(Receipt.Stream.DIGEST)
    if audience_ids is not None:
        audiences = audiences.filter(pk__in=audience_ids)
    audiences = list(audiences)
    build = Build(kind, next_weekly_at=selectors.weekly_build_next_run(now=now))
    with _long_lived_objects_frozen(enabled=freeze_gc):
        candidates = selectors.candidates_read(audiences, Receipt.Stream.DIGEST, until=now)
        if freeze_gc:
            gc.freeze()  # and the candidates just read
        audiences_build(build, audiences, candidates, now=now)
    return build


def audiences_build(
    build: Build, audiences: list[Audience], candidates: selectors.Candidates, *, now: datetime, decide=None
) -> None:
    """Build each audience in turn into `build`: one audience's failure is logged and reported
    while the others still get theirs; a database error is raised after them (a retry builds only
    what is missing)."""
    failure = None
    for audience in audiences:
        try:
            build.audiences.append(audience_build(build.kind, audience, candidates, now=now, decide=decide))
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: a retry builds only what is missing
        except Exception as exc:  # the other audiences still get theirs
            logger.exception("%s for audience %r failed", build.kind, audience.name)
            build.audiences.append(AudienceBuild(audience, None, built_now=False, error=str(exc)[:500]))
            failure = failure or (exc if isinstance(exc, DatabaseError) else None)
    if failure is not None:
        raise failure


def audience_build(
    kind: str, audience: Audience, candidates: selectors.Candidates, *, now: datetime, decide=None
) -> AudienceBuild:
    """Build one audience's digest (or alert) of the candidates it has not received.

    Atomic, with the audience's row locked: concurrent builds of one audience take turns, and each
    reads the receipts the one before it wrote. A weekly digest (unique per audience and Friday) is
    returned as it was when already built. With nothing to send, nothing is recorded but the receipts
    of detections left out. `decide(audience, composition)` (alerts) returns how many detections
    must wait (then nothing is built) and the kind to build.
    """
    stream, original = STREAM_OF_KIND[kind], audience
    with transaction.atomic():
        audience = Audience.objects.receiving(stream).select_for_update().filter(pk=audience.pk).first()
        if audience is None:  # deleted, paused or moved off this stream since the build began
            return AudienceBuild(original, None, built_now=False)
        since = selectors.scan_from(audience, stream, now=now)
        if candidates.since is not None and since < candidates.since:  # its filter changed meanwhile
            candidates = selectors.candidates_read([audience], stream, until=now)
        digest = None
        if kind == Digest.Kind.WEEKLY:
            digest, _ = Digest.objects.get_or_create(audience=audience, kind=kind, week_ending=friday_of_run(now))
            if digest.built_at is not None:
                return _carried(audience, digest)
        taken = selectors.received(audience, stream, since=since)
        composition = selectors.rows_compose(candidates, audience, stream, taken=taken, now=now)
        _receipts_insert(audience, stream, None, {pk: (None, why) for pk, why in composition.left_out.items()})
        held = 0
        if decide is not None and composition.rows:
            held, kind = decide(audience, composition)
        if composition.rows and not held:
            if digest is None:
                digest = Digest(audience=audience, kind=kind, week_ending=week_ending_for(now))
            _digest_fill(digest, audience, composition, now)
        if digest is not None and digest.built_at is None:
            digest.delete()  # a weekly row made above with nothing to carry
            digest = None
        _scan_advance(audience, stream, now)
    if digest is not None:
        logger.info("%s built: %d detections, %d members, %d chunks", digest, digest.detection_count,
                    digest.member_count, digest.chunk_count)  # fmt: skip
    carried = composition.detection_ids if digest is not None else []
    return AudienceBuild(audience, digest, built_now=True, detection_ids=carried, left_out=composition.left_out,
                         held=held)  # fmt: skip


def _carried(audience: Audience, digest: Digest) -> AudienceBuild:
    carried = list(digest.receipts.filter(left_out="").values_list("detection_id", flat=True))
    return AudienceBuild(audience, digest, built_now=False, detection_ids=carried)


def _scan_advance(audience: Audience, stream: str, now: datetime) -> None:
    """The audience's next build need not look before a margin ahead of this one's `now`."""
    column = "digest_scanned_from" if stream == Receipt.Stream.DIGEST else "alert_scanned_from"
    moment = now - selectors.LATE_COMMIT_MARGIN
    current = getattr(audience, column)
    if current is None or moment > current:
        Audience.objects.filter(pk=audience.pk).update(**{column: moment})


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


def _digest_fill(digest: Digest, audience: Audience, composition: selectors.Composition, now: datetime) -> None:
    """Render the rows into chunks, one delivery per chunk and channel, and record the receipts."""
    digest.covers_from = min(d.detected_at for row in composition.rows for d in row.detections)
    entries = [row.entry for row in composition.rows]
    title = _title(digest.kind, audience, composition, now)
    chunks = rendering.chunks_pack(entries, title=title)
    digest.built_at = now
    digest.detection_count = len(composition.detection_ids)
    digest.member_count = len(composition.rows)
    digest.left_out_count = len(composition.left_out)
    digest.chunk_count = len(chunks)
    digest.save()
    chunk_of, rows = {}, iter(composition.rows)
    deliveries = []
    channels = addresses.audience_channels(audience)
    for number, chunk in enumerate(chunks, start=1):
        for _ in chunk:
            chunk_of.update(dict.fromkeys((d.id for d in next(rows).detections), (number, "")))
        for channel in channels:
            content = RENDERERS[channel](chunk, title=title, chunk=number, chunk_count=len(chunks))
            content.update(addresses.audience_address(audience, channel))
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
    _receipts_insert(audience, STREAM_OF_KIND[digest.kind], digest, chunk_of)
    _deliveries_insert(deliveries)


def _title(kind: str, audience: Audience, composition: selectors.Composition, now: datetime) -> str:
    covers_from = min(d.detected_at for row in composition.rows for d in row.detections)
    return rendering.digest_title(
        kind,
        covers=rendering.digest_covers(covers_from, now),
        audience_name="" if audience.use_settings_channels else audience.name,
        entries=[row.entry for row in composition.rows],
    )


@dataclass
class Preview:
    plan: selectors.AudiencePlan
    email: dict | None  # the first chunk's email, as recipients would see it
    chunk_count: int


def digest_preview(audience: Audience, *, now: datetime | None = None) -> Preview:
    """What `audience` would get in a digest built now, rendered as its email would be; nothing is recorded."""
    now = now or timezone.now()
    plan = selectors.digest_plan(now=now, audiences=[audience]).audiences[0]
    if not plan.composition.rows:
        return Preview(plan, None, 0)
    title = _title(Digest.Kind.WEEKLY, audience, plan.composition, now)
    chunks = rendering.chunks_pack([row.entry for row in plan.composition.rows], title=title)
    return Preview(plan, rendering.email_render(chunks[0], title=title, chunk=1, chunk_count=len(chunks)), len(chunks))


def _receipts_insert(
    audience: Audience, stream: str, digest: Digest | None, items: dict[int, tuple[int | None, str]]
) -> None:
    """Record what the audience received (detection id → (chunk, "")) or why it was left out
    (→ (None, reason)), in one statement (bulk_create's per-row parameters took seconds for a
    10,000-detection week)."""
    if not items:
        return
    detections_freeze(detection_ids=list(items), at=timezone.now())  # taken: they stop following their members
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO digests_receipt (audience_id, stream, digest_id, detection_id, chunk, left_out) "
            "SELECT %s, %s, %s, v.id, v.chunk, v.left_out "
            "FROM unnest(%s::bigint[], %s::integer[], %s::text[]) AS v(id, chunk, left_out)",
            [
                audience.pk,
                stream,
                digest.pk if digest else None,
                list(items),
                [chunk for chunk, _ in items.values()],
                [why for _, why in items.values()],
            ],
        )


def _deliveries_insert(deliveries: list[DigestDelivery]) -> None:
    """Insert the rendered deliveries with server-side parameters: Django's client-side binding
    escaped the megabytes of rendered content character by character. (A plain psycopg Cursor:
    the connection's own cursor factory is Django's client-side one.)"""
    import psycopg
    from psycopg.types.json import Jsonb

    if not deliveries:
        return
    now = timezone.now()
    rows = [
        (
            d.digest_id,
            d.channel,
            d.chunk,
            d.chunk_count,
            Jsonb(d.content, dumps=_json_text),
            d.next_attempt_at,
            now,
            now,
        )
        for d in deliveries
    ]
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.executemany(
            "INSERT INTO digests_digestdelivery (digest_id, channel, chunk, chunk_count, content, status, attempts, "
            "next_attempt_at, last_error, deployment_id, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, 'pending', 0, %s, '', '', %s, %s)",
            rows,
        )


def _json_text(value) -> str:
    """orjson: a tenth of json.dumps' time on a Friday's megabytes of rendered content."""
    import orjson

    return orjson.dumps(value).decode()


def nothing_built(*, now: datetime | None = None) -> Build:
    """No build: what is waiting, and when Friday's digests take it."""
    return Build(Digest.Kind.EXTRA, next_weekly_at=selectors.weekly_build_next_run(now=now or timezone.now()))


def build_summary(build: Build, *, waiting: int | None = None) -> str:
    """What a build did, for the operator who asked (admin message, command output, task result)."""
    local = ZoneInfo(settings.TIME_ZONE)
    parts = []
    for item in build.audiences:
        digest = item.digest
        if item.error:
            parts.append(f"{item.audience}: failed ({item.error}).")
        elif digest is None:
            if item.held:
                parts.append(f"{item.audience}: {_count(item.held, 'detection')} held for the next alert.")
        elif not item.built_now:
            parts.append(f"{digest} was already built on {digest.built_at.astimezone(local):%b %d at %H:%M %Z}.")
        else:
            parts.append(
                f"{digest}: {_count(digest.detection_count, 'detection')} "
                f"({_count(digest.member_count, 'member')}) in {_count(digest.chunk_count, 'chunk')}, being sent."
            )
    text = " ".join(parts) or "Nothing to send: no digest was recorded."
    if not build.digests and parts:
        text = f"Nothing new to send. {text}"
    if build.left_out:
        text += f" {_count(len(build.left_out), 'detection')} left out: no longer true when built."
    if waiting is not None:
        if build.next_weekly_at is None:
            going = "the weekly digest is paused"
        else:
            going = f"going out with the weekly digest on {build.next_weekly_at.astimezone(local):%a %b %d at %H:%M %Z}"
        text += f" {_count(waiting, 'detection')} waiting, {going}."
    return text


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def digest_build_and_send(
    kind: str = Digest.Kind.WEEKLY,
    *,
    user=None,
    via: str | None,
    now: datetime | None = None,
    freeze_gc: bool = False,
    audience_ids: list[int] | None = None,
) -> Build:
    """Build digests and have their deliveries sent: what Friday's schedule (weekly), and the
    admin's, the API's and the command's "send now" (extra) do.

    An operator's build (`via` "admin", "api" or "command") is audited: `digest.send_extra`, or
    `digest.build_weekly` when a weekly one built something. `via=None` is the schedule's own run:
    no operator, nothing recorded."""
    from .sending import deliveries_send_enqueue

    build = digest_build(kind, now=now, freeze_gc=freeze_gc, audience_ids=audience_ids)
    with transaction.atomic():  # each audience was built in its own transaction; this records the whole
        if build.built_now:
            transaction.on_commit(deliveries_send_enqueue)  # now, unless the caller's transaction is open
        if via is not None and (kind == Digest.Kind.EXTRA or build.built_now):
            action = "digest.send_extra" if kind == Digest.Kind.EXTRA else "digest.build_weekly"
            target = ", ".join(str(digest) for digest in build.digests if digest) or "nothing to send"
            audit_record(user, action, via=via, target=target, detections=build.detection_ids)
    return build
