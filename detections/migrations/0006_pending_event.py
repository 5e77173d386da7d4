"""Pending events in a table of their own, so that marking an event processed is a HOT update.

- PendingEvent replaces the partial index on unprocessed events; existing unprocessed events
  are copied into it.
- Raw event pages keep half their space free (PostgreSQL fillfactor): a HOT update needs room
  on the row's own page. Pages written before this migration keep their old packing.
- The intake function (version 2, detections/sql/) also stores the pending row, in the same call.
"""

import django.db.models.deletion
from django.db import migrations, models

from detections.sql import intake_function_sql

RAW_EVENT_FILLFACTOR = 50

PENDING_COPY = """
INSERT INTO detections_pendingevent (event_id, user_id, received_at)
    SELECT id, user_id, received_at FROM detections_rawevent WHERE processed_at IS NULL
"""


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
        migrations.RunSQL(
            f"ALTER TABLE detections_rawevent SET (fillfactor = {RAW_EVENT_FILLFACTOR})",
            "ALTER TABLE detections_rawevent RESET (fillfactor)",
        ),
        migrations.RunSQL(intake_function_sql(2), intake_function_sql(1)),
    ]
