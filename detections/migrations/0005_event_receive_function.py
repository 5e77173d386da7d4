"""PostgreSQL: intake as one function call, so storing a webhook costs one round trip."""

from django.db import migrations

from detections.sql import INTAKE_FUNCTION, intake_function_sql


class Migration(migrations.Migration):
    dependencies = [("detections", "0004_backfillrun")]

    operations = [migrations.RunSQL(intake_function_sql(1), f"DROP FUNCTION IF EXISTS {INTAKE_FUNCTION}")]
