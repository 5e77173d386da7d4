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

The module is also the one home of every advisory lock key in the service (below), and of the
community write-back's writer lock.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

# Every PostgreSQL advisory lock key of the service, here and nowhere else, so they stay clear of
# each other (first keys of two-key locks). The intake lock is taken by the intake function
# (detections/sql/), which is passed its namespace.
INTAKE_LOCK_NAMESPACE = 7201
PROCESSING_LOCK_NAMESPACE = 7202
COMMUNITY_WRITER_LOCK_KEY = 7203
# The database alias of session-scoped work (DATABASE_SESSION_URL); without it, the default's.
SESSION_DATABASE = "session"


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


@contextmanager
def community_writer_lock(*, wait: bool) -> Iterator[bool]:
    """The community write-back's one writer at a time (services.writeback), so the rate limit holds
    for the service, not per process; yields whether it is held (`wait` False: only tried). A session
    lock: no transaction is held open across the community's replies.

    Taken on the "session" connection when one is configured: behind PgBouncer in transaction mode
    the default connection's statements may each reach another server connection, so the unlock
    would miss the lock, which would stay with a server connection other clients get
    (docs/pooling.md). That connection is closed after the lock, so it holds a server connection
    only while a writer runs."""
    alias = SESSION_DATABASE if SESSION_DATABASE in settings.DATABASES else DEFAULT_DB_ALIAS
    session = connections[alias]
    try:
        with session.cursor() as cursor:
            cursor.execute(
                f"SELECT {'pg_advisory_lock' if wait else 'pg_try_advisory_lock'}(%s, 0)", [COMMUNITY_WRITER_LOCK_KEY]
            )
            held = wait or cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                with session.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [COMMUNITY_WRITER_LOCK_KEY])
    finally:
        if alias != DEFAULT_DB_ALIAS:
            session.close()  # ends the session: a lock left by a failed unlock goes with it
