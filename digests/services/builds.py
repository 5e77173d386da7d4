"""Building digests and alerts: for each audience, what it has not received, once.

Orchestration only: which audiences, each in its own locked transaction, which Friday (core.weeks),
and an operator's build sent and audited. What a build writes is in `build_writes` (its two bulk
INSERTs); the words about it (title, preview, summary) in `build_texts`.
"""

from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, transaction
from django.utils import timezone

from access.services import audit_record
from core.weeks import friday_of_run, week_ending_for

from .. import selectors
from ..models import Audience, Digest, Receipt
from . import build_writes

logger = logging.getLogger(__name__)
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
        left_out = {pk: (None, why) for pk, why in composition.left_out.items()}
        build_writes.receipts_insert(audience, stream, None, left_out)
        held = 0
        if decide is not None and composition.rows:
            held, kind = decide(audience, composition)
        if composition.rows and not held:
            if digest is None:
                digest = Digest(audience=audience, kind=kind, week_ending=week_ending_for(now))
            build_writes.digest_fill(digest, audience, composition, now, stream=STREAM_OF_KIND[digest.kind])
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


def nothing_built(*, now: datetime | None = None) -> Build:
    """No build: what is waiting, and when Friday's digests take it."""
    return Build(Digest.Kind.EXTRA, next_weekly_at=selectors.weekly_build_next_run(now=now or timezone.now()))


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
