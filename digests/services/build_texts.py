"""The words of a build: a digest's title for its audience (the build and the preview share it), the
preview an operator reads before sending, and the summary of what a build did (admin message,
command output, task result).

Not in digests/rendering.py, which says how a chunk looks on each channel: these read the
selectors' and the builds' types (a composition, an audience's plan, a Build), and the selectors
already import rendering for its Entry, so rendering would import them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from core.dates import moment_text

from .. import rendering, selectors
from ..models import Audience, Digest

if TYPE_CHECKING:
    from .builds import Build


def digest_title(kind: str, audience: Audience, composition: selectors.Composition, now: datetime) -> str:
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
    title = digest_title(Digest.Kind.WEEKLY, audience, plan.composition, now)
    chunks = rendering.chunks_pack([row.entry for row in plan.composition.rows], title=title)
    return Preview(plan, rendering.email_render(chunks[0], title=title, chunk=1, chunk_count=len(chunks)), len(chunks))


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
            parts.append(f"{digest} was already built on {moment_text(digest.built_at)}.")
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
            weekday = f"{build.next_weekly_at.astimezone(local):%a}"
            going = f"going out with the weekly digest on {weekday} {moment_text(build.next_weekly_at)}"
        text += f" {_count(waiting, 'detection')} waiting, {going}."
    return text


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
