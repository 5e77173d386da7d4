"""The circuit breaker per channel: after DIGEST_CIRCUIT_FAILURES failures in a row a channel's
bot is not called for a pause that doubles each time it opens again (up to
DIGEST_CIRCUIT_MAX_PAUSE_SECONDS), then one delivery goes through as a probe. `sending` calls
these inside the transaction that records the delivery's attempt, so the two change together.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings

from ..models import ChannelCircuit

logger = logging.getLogger(__name__)


def circuit_close(channel: str) -> None:
    ChannelCircuit.objects.update_or_create(
        channel=channel,
        defaults={
            "state": ChannelCircuit.State.CLOSED,
            "consecutive_failures": 0,
            "opened_until": None,
            "open_count": 0,
        },
    )


def channels_blocked(now: datetime) -> list[str]:
    """Channels not to call now: open and still pausing, or half-open with a probe in flight."""
    return list(
        ChannelCircuit.objects.filter(
            state__in=[ChannelCircuit.State.OPEN, ChannelCircuit.State.HALF_OPEN], opened_until__gt=now
        ).values_list("channel", flat=True)
    )


def circuit_admit(channel: str, now: datetime) -> None:
    """An open circuit whose pause is over lets exactly one delivery through as a probe."""
    circuit = ChannelCircuit.objects.select_for_update().filter(channel=channel).first()
    if circuit and circuit.state != ChannelCircuit.State.CLOSED:
        circuit.state = ChannelCircuit.State.HALF_OPEN
        circuit.opened_until = now + timedelta(seconds=settings.DIGEST_SEND_LEASE_SECONDS)
        circuit.save(update_fields=["state", "opened_until", "updated_at"])


def circuit_failure(channel: str, now: datetime) -> None:
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
