"""Intake: store a webhook delivery (or recognise a repeat), then make sure a worker applies it."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property

from django.db import transaction

from core.background import BackgroundCall
from core.backoff import Backoff
from core.database import server_bound_cursor

from .. import selectors
from ..locks import INTAKE_LOCK_NAMESPACE
from ..models import RawEvent

logger = logging.getLogger(__name__)

EventType = RawEvent.EventType


@dataclass(frozen=True)
class IncomingEvent:
    """A validated webhook delivery (detections.payloads)."""

    event_type: str
    user_id: str
    payload: dict
    username: str = ""
    field: str = ""
    value: str = ""
    old_value: str = ""
    delivery_id: str | None = None

    @cached_property
    def field_role(self) -> str | None:
        """The tracked field's role (TrackedField.Role); "" for a registration; None: not tracked."""
        if self.event_type != EventType.PROFILE_UPDATED:
            return ""
        return selectors.tracked_field_role(name=self.field)

    @property
    def idempotency_key(self) -> str:
        # Content, not identity: a redelivery has the same key as the event it repeats; a
        # genuine change back (VP -> Engineer -> VP) differs from the latest stored event.
        parts = [self.event_type, self.user_id, self.field.casefold(), self.value, self.old_value]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Receipt:
    status: str  # "accepted" | "duplicate" | "ignored"
    event_id: int | None


def event_receive(*, incoming: IncomingEvent) -> Receipt:
    """Store a delivery (or recognise it as a duplicate) and have it applied after commit.

    Nothing is classified here: the reply must not wait on processing, and the stored event is the
    outbox the worker (or the sweep, when the broker is down) reads. Every tracked field is stored,
    a Country or Company too whoever sends it: whether it concerns a senior member is known only
    once the member's earlier events are applied (inSided sends a profile save's fields one by
    one, the title not necessarily first). Storing is one round trip:
    the intake function (detections/sql/) takes the member's intake lock, checks both duplicate
    rules and inserts the event with its pending row.
    """
    role = incoming.field_role
    if role is None:
        return Receipt("ignored", None)
    with server_bound_cursor() as cursor:  # prepared: not parsed and planned for every webhook
        cursor.execute(
            "SELECT status, event_id FROM captpathfinder_event_receive("
            "%s::integer, %s::text, %s::text, %s::text, %s::text, %s::text, %s::text, %s::text, %s::text, "
            "%s::jsonb, %s::text)",
            [
                INTAKE_LOCK_NAMESPACE,
                incoming.event_type,
                incoming.delivery_id,
                incoming.user_id,
                incoming.username,
                incoming.field,
                role,
                incoming.value,
                incoming.old_value,
                json.dumps(incoming.payload),
                incoming.idempotency_key,
            ],
        )
        status, event_id = cursor.fetchone()
    if status == "accepted":
        transaction.on_commit(events_processing_wake_soon)
    return Receipt(status, event_id)


# While the broker is unreachable, skip publishing for a moment: each try costs a connect
# timeout, and the sweep enqueues the stored events once the broker is back.
_broker_backoff = Backoff(5.0)


# A worker applies pending events in batches (services.processing); intake only has to make sure
# one is on its way. Each web process schedules at most one wake-up per interval, due at the
# interval's end: every event stored in the interval is committed by then, and the wait lets
# events gather into batches big enough to be cheap (per-batch queries dominate small ones).
WAKE_INTERVAL_SECONDS = 0.5
_next_wake_at = 0.0


def events_processing_wake() -> bool:
    """Make sure a worker applies pending events shortly; returns whether a task was published."""
    global _next_wake_at
    now = time.monotonic()
    if not _wake_due(now):
        return False
    from ..tasks import events_process_pending

    try:
        events_process_pending.apply_async(countdown=WAKE_INTERVAL_SECONDS)
        _next_wake_at = now + WAKE_INTERVAL_SECONDS
    except Exception:  # kombu raises several unrelated types for an unreachable broker
        _broker_backoff.failed(now)
        logger.warning("broker unavailable; stored events left for the outbox sweep", exc_info=True)
        return False
    return True


def events_processing_wake_soon() -> None:
    """`events_processing_wake` on a thread of its own: intake's reply does not wait for the broker.

    A publish costs about 0.8 ms of CPU (4–5 ms of the reply under load, for one webhook in two
    hundred at 800/s), and while Redis is down a connect timeout of up to two seconds. A wake-up
    that never goes out only delays the events: the outbox sweep enqueues them.
    """
    if _wake_due(time.monotonic()):  # else a wake-up is on its way: no thread switch per webhook
        _wake_in_background.request()


def _wake_due(now: float) -> bool:
    return now >= _next_wake_at and not _broker_backoff.active(now)


_wake_in_background = BackgroundCall(events_processing_wake, name="processing-wake")
