"""Per-member serialisation.

Intake and processing of one member's events take the same lock, so a member's events get
ids in the order they were received and are applied in that order, whatever the number of
web processes and workers. Other members are not blocked.
"""

from django.db import connection

LOCK_NAMESPACE = 7201  # first key of the two-key advisory lock: keeps clear of other lock users (also used by SQL)


def member_lock(user_id: str) -> None:
    """Hold the member's lock until the current transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite (the `make run` default) opens
    every transaction IMMEDIATE, which already serialises writers, so nothing is needed.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, user_id])


def members_lock(user_ids: list[str]) -> None:
    """Hold several members' locks until the transaction ends (a backfill batch).

    Taken in sorted order in one statement; other lock holders hold one member at a time, so
    no cycle and no deadlock can form.
    """
    if connection.vendor == "postgresql" and user_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(u)) FROM unnest(%s::text[]) AS u ORDER BY u",
                [LOCK_NAMESPACE, sorted(set(user_ids))],
            )


def members_try_lock(user_ids: list[str]) -> list[str]:
    """Take the locks of those members nobody else holds now; returns them (a batch processor
    skips the others, which another worker is applying)."""
    if connection.vendor != "postgresql":
        return list(user_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u FROM unnest(%s::text[]) WITH ORDINALITY AS t(u, n) "
            "WHERE pg_try_advisory_xact_lock(%s, hashtext(u)) ORDER BY n",
            [list(user_ids), LOCK_NAMESPACE],
        )
        return [row[0] for row in cursor.fetchall()]
