"""Per-member serialisation, with two locks per member.

- The **intake** lock: deliveries for one member are stored one after the other, so the
  member's events get ids in the order they commit (an event's id is drawn after every earlier
  event of the member committed). A processor that sees an event therefore sees every earlier
  one of that member: none can still be uncommitted with a lower id.
- The **processing** lock: whoever changes a member's state (batches, the per-member task,
  enrichment, reclassification, backfill) holds it, so one holder applies the member's events,
  in id order.

Storing and applying need not exclude each other: an event stored while a batch holds the
member gets a higher id than everything the batch read, and waits for the next batch. Keeping
them apart means a delivery never waits for a batch (that wait was the webhook's slowest 1 %).
Other members are never blocked.
"""

from django.db import connection

# First keys of the two-key advisory locks: clear of other lock users. The intake lock is taken by
# the intake function (detections/sql/), which is passed its namespace.
INTAKE_LOCK_NAMESPACE = 7201
PROCESSING_LOCK_NAMESPACE = 7202


def members_lock(user_ids: list[str]) -> None:
    """Hold the members' processing locks until the current transaction ends, waiting for them.

    Taken in sorted order in one statement; holders of several members (backfill,
    reclassification) all take them so, and the others take at most one member or only try, so no
    cycle and no deadlock can form.
    """
    if user_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(u)) FROM unnest(%s::text[]) AS u ORDER BY u",
                [PROCESSING_LOCK_NAMESPACE, sorted(set(user_ids))],
            )


def members_try_lock(user_ids: list[str]) -> list[str]:
    """Take the processing locks of those members nobody else holds now; returns them (a batch processor
    skips the others, which another worker is applying)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u FROM unnest(%s::text[]) WITH ORDINALITY AS t(u, n) "
            "WHERE pg_try_advisory_xact_lock(%s, hashtext(u)) ORDER BY n",
            [list(user_ids), PROCESSING_LOCK_NAMESPACE],
        )
        return [row[0] for row in cursor.fetchall()]
