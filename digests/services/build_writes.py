"""What a build writes for one audience: its digest, rendered once into chunks, one delivery per
chunk and channel, and the receipts. The two hand-written bulk INSERTs live here and nowhere else.

A module rather than model managers: recording a receipt also freezes the detection through
detections' service (taken, it stops following its member), which is a service's business, not a
manager's; and the deliveries' INSERT goes around Django's cursor to psycopg's own.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from detections.services.members import detections_freeze

from .. import addresses, rendering, selectors
from ..models import Audience, Channel, Digest, DigestDelivery
from .build_texts import digest_title

RENDERERS = {Channel.EMAIL: rendering.email_render, Channel.TEAMS: rendering.teams_render}


def digest_fill(
    digest: Digest, audience: Audience, composition: selectors.Composition, now: datetime, *, stream: str
) -> None:
    """Render the rows into chunks, one delivery per chunk and channel, and record the receipts."""
    digest.covers_from = min(d.detected_at for row in composition.rows for d in row.detections)
    entries = [row.entry for row in composition.rows]
    title = digest_title(digest.kind, audience, composition, now)
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
    receipts_insert(audience, stream, digest, chunk_of)
    deliveries_insert(deliveries)


def receipts_insert(
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


def deliveries_insert(deliveries: list[DigestDelivery]) -> None:
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
