"""Pending events in a table of their own, so that marking an event processed is a HOT update.

- PendingEvent replaces the partial index on unprocessed events; existing unprocessed events
  are copied into it.
- Raw event pages keep half their space free (PostgreSQL fillfactor): a HOT update needs room
  on the row's own page. Pages written before this migration keep their old packing.
- The intake function (migration 0005) also stores the pending row, in the same call.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

RAW_EVENT_FILLFACTOR = 50

FUNCTION = """
CREATE OR REPLACE FUNCTION captpathfinder_event_receive(
    p_lock_namespace integer, p_event_type text, p_delivery_id text, p_user_id text, p_username text,
    p_field text, p_field_role text, p_value text, p_old_value text, p_payload jsonb, p_key text,
    OUT status text, OUT event_id bigint
) LANGUAGE plpgsql AS $$
DECLARE
    latest_key text;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_user_id));
    IF p_delivery_id IS NOT NULL THEN
        SELECT id INTO event_id FROM detections_rawevent WHERE delivery_id = p_delivery_id;
        IF FOUND THEN
            status := 'duplicate';
            RETURN;
        END IF;
    END IF;
    SELECT id, idempotency_key INTO event_id, latest_key FROM detections_rawevent
        WHERE user_id = p_user_id AND field = p_field ORDER BY id DESC LIMIT 1;
    IF FOUND AND latest_key = p_key THEN
        status := 'duplicate';
        RETURN;
    END IF;
    INSERT INTO detections_rawevent (event_type, delivery_id, user_id, username, field, field_role, value,
                                     old_value, payload, idempotency_key, received_at, outcome)
        VALUES (p_event_type, p_delivery_id, p_user_id, p_username, p_field, p_field_role, p_value,
                p_old_value, p_payload, p_key, now(), '')
        ON CONFLICT (delivery_id) DO NOTHING
        RETURNING id INTO event_id;
    IF NOT FOUND THEN
        -- The same delivery id stored meanwhile under another user id: still a repeat.
        SELECT id INTO event_id FROM detections_rawevent WHERE delivery_id = p_delivery_id;
        status := 'duplicate';
        RETURN;
    END IF;
    INSERT INTO detections_pendingevent (event_id, user_id, received_at) VALUES (event_id, p_user_id, now());
    status := 'accepted';
END $$;
"""

PENDING_COPY = """
INSERT INTO detections_pendingevent (event_id, user_id, received_at)
    SELECT id, user_id, received_at FROM detections_rawevent WHERE processed_at IS NULL
"""


def postgresql_forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE detections_rawevent SET (fillfactor = {RAW_EVENT_FILLFACTOR})")
        schema_editor.execute(FUNCTION)


def postgresql_backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE detections_rawevent RESET (fillfactor)")
        schema_editor.execute(importlib.import_module("detections.migrations.0005_event_receive_function").FUNCTION)


class Migration(migrations.Migration):
    dependencies = [
        ("detections", "0005_event_receive_function"),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingEvent",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="detections.rawevent",
                    ),
                ),
                ("user_id", models.CharField(max_length=64)),
                ("received_at", models.DateTimeField()),
            ],
        ),
        migrations.RunSQL(PENDING_COPY, migrations.RunSQL.noop),
        migrations.RemoveIndex(
            model_name="rawevent",
            name="rawevent_unprocessed",
        ),
        migrations.RunPython(postgresql_forward, postgresql_backward),
    ]
