"""Migration 0006: unprocessed events move onto the pending list, and raw event pages keep room."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_PENDING = [("detections", "0005_event_receive_function")]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def receive_with_the_intake_function(cursor, user_id: str) -> int:
    cursor.execute(
        "SELECT event_id FROM captpathfinder_event_receive(7201, 'integration.UserProfileUpdated', NULL, %s, '', "
        "'Job Title', 'job_title', 'CEO', '', '{}'::jsonb, %s)",
        [user_id, f"key-{user_id}"],
    )
    return cursor.fetchone()[0]


def test_unprocessed_events_become_pending_and_the_mark_gets_room_for_a_hot_update():
    migrate(BEFORE_PENDING)
    try:
        with connection.cursor() as cursor:
            waiting = receive_with_the_intake_function(cursor, "1")
            applied = receive_with_the_intake_function(cursor, "2")
            cursor.execute("UPDATE detections_rawevent SET processed_at = now() WHERE id = %s", [applied])

        migrate()

        with connection.cursor() as cursor:
            cursor.execute("SELECT event_id, user_id FROM detections_pendingevent")
            assert cursor.fetchall() == [(waiting, "1")]
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'detections_rawevent'")
            assert cursor.fetchone()[0] == ["fillfactor=50"]
            arrived = receive_with_the_intake_function(cursor, "3")  # the new function stores the pending row
            cursor.execute("SELECT event_id FROM detections_pendingevent ORDER BY event_id")
            assert [row[0] for row in cursor.fetchall()] == [waiting, arrived]
    finally:
        migrate()


def test_the_migration_reverses_to_the_previous_intake_function():
    migrate(BEFORE_PENDING)
    try:
        with connection.cursor() as cursor:
            assert receive_with_the_intake_function(cursor, "1")  # no pending table to write to, and none needed
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'detections_rawevent'")
            assert cursor.fetchone()[0] is None
    finally:
        migrate()
