"""The intake function's migrations, and the installed function against its file."""

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from detections.locks import INTAKE_LOCK_NAMESPACE
from detections.sql import INTAKE_FUNCTION, intake_function_sql

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_PENDING = [("detections", "0005_event_receive_function")]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def receive_with_the_intake_function(cursor, user_id: str) -> int:
    cursor.execute(
        "SELECT event_id FROM captpathfinder_event_receive(%s, 'integration.UserProfileUpdated', NULL, %s, '', "
        "'Job Title', 'job_title', 'CEO', '', '{}'::jsonb, %s)",
        [INTAKE_LOCK_NAMESPACE, user_id, f"key-{user_id}"],
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


def installed_definition(cursor, schema: str) -> str:
    cursor.execute(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = %s AND n.nspname = %s",
        [INTAKE_FUNCTION, schema],
    )
    (definition,) = cursor.fetchone()
    return definition.replace(f"{schema}.{INTAKE_FUNCTION}", INTAKE_FUNCTION)


def test_the_installed_intake_function_is_its_newest_file():
    """Installs the file in a schema of its own and compares what PostgreSQL made of both: an edit
    to the file that no migration installed fails here."""
    with transaction.atomic(), connection.cursor() as cursor:
        installed = installed_definition(cursor, "public")
        cursor.execute("CREATE SCHEMA intake_check")
        cursor.execute("SET LOCAL search_path = intake_check")
        cursor.execute(intake_function_sql())
        from_file = installed_definition(cursor, "intake_check")
        transaction.set_rollback(True)

    assert from_file == installed


def test_a_released_version_edited_in_place_is_refused(tmp_path, monkeypatch):
    from detections import sql

    edited = tmp_path / "event_receive.v2.sql"
    edited.write_text(intake_function_sql(2).replace("'duplicate'", "'repeat'"), encoding="utf-8")
    monkeypatch.setattr(sql, "__file__", str(tmp_path / "__init__.py"))

    with pytest.raises(RuntimeError, match="new version"):
        sql.intake_function_sql(2)


def test_what_the_write_back_gave_before_ownership_counts_as_its_own():
    migrate([("detections", "0013_community_grants")])
    try:
        with connection.cursor() as cursor:
            for user_id, kind, wanted, status, result in [
                ("1", "role", True, "done", "role given"),
                ("2", "badge", True, "done", "badge awarded"),
                ("3", "badge", True, "done", "badge already held"),  # someone else's
                ("4", "role", False, "done", "role taken away"),
                ("5", "role", True, "pending", ""),
            ]:
                cursor.execute(
                    "INSERT INTO detections_communitygrant (user_id, kind, name, wanted, reason, status, result, "
                    "attempts, next_attempt_at, last_error, generation, updated_at) "
                    "VALUES (%s, %s, 'x', %s, '', %s, %s, 0, now(), '', 1, now())",
                    [user_id, kind, wanted, status, result],
                )

        migrate()

        with connection.cursor() as cursor:
            cursor.execute("SELECT user_id FROM detections_communitygrant WHERE given_by_us ORDER BY user_id")
            assert [row[0] for row in cursor.fetchall()] == ["1", "2"]
    finally:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM detections_communitygrant")
        migrate()
