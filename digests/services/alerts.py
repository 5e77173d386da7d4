"""Real-time alerts: an audience that asks for them hears of a matching detection within minutes.

Every minute (core/schedules.py) each real-time audience's new detections are looked at. They wait
DIGEST_ALERT_COALESCE_SECONDS from the oldest, so a burst goes as one message. An audience gets at
most `alerts_per_hour` alerts in a clock hour (New York); what comes after waits for the next
hour and then goes as one summary. Nothing is dropped: a held detection has no receipt, so the next
run takes it. The weekly digest is a separate stream: an audience that asks for both gets each
detection in both.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from .. import selectors
from ..models import Audience, Digest, Receipt
from .builds import Build, audiences_build

logger = logging.getLogger(__name__)
ALERT_KINDS = (Digest.Kind.ALERT, Digest.Kind.SUMMARY)


def alerts_build_due(*, now: datetime | None = None) -> Build:
    """Build the alerts that are due, one audience at a time (one audience's failure does not hold
    up the others; a database error is raised after them, and the next minute's run retries)."""
    now = now or timezone.now()
    audiences = list(Audience.objects.receiving(Receipt.Stream.ALERT))
    build = Build(Digest.Kind.ALERT)
    candidates = selectors.candidates_read(audiences, Receipt.Stream.ALERT, until=now)
    audiences_build(build, audiences, candidates, now=now, decide=lambda a, c: _alert_decide(a, c, now))
    return build


def _hour_start(now: datetime) -> datetime:
    """The start of `now`'s clock hour in New York, in UTC: an hour added or taken there is a real
    hour across the daylight-saving changes (on New York's wall clock it is not)."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _alerts_between(audience: Audience, start: datetime, end: datetime) -> int:
    return Digest.objects.filter(audience=audience, kind__in=ALERT_KINDS, built_at__gte=start, built_at__lt=end).count()


def _alert_decide(audience: Audience, composition: selectors.Composition, now: datetime) -> tuple[int, str]:
    """How many detections must wait, and the kind of message otherwise. All wait while the oldest
    is younger than the coalescing window, or while this hour's cap of messages is used up. When the
    previous hour used up its cap and some of them are from then, the message is the summary of
    what the cap held back."""
    oldest = min(d.detected_at for row in composition.rows for d in row.detections)
    waiting = len(composition.detection_ids)
    if now - oldest < timedelta(seconds=settings.DIGEST_ALERT_COALESCE_SECONDS):
        return waiting, Digest.Kind.ALERT
    hour = _hour_start(now)
    if _alerts_between(audience, hour, hour + timedelta(hours=1)) >= audience.alerts_per_hour:
        logger.info("audience %r: hourly cap of %d alerts reached; %d detections wait for the next hour",
                    audience.name, audience.alerts_per_hour, waiting)  # fmt: skip
        return waiting, Digest.Kind.ALERT
    capped = _alerts_between(audience, hour - timedelta(hours=1), hour) >= audience.alerts_per_hour
    return 0, Digest.Kind.SUMMARY if capped and oldest < hour else Digest.Kind.ALERT
