from django.db import migrations, models


class Migration(migrations.Migration):
    """The column only; the detections already taken are marked by digests' migration 0010,
    which owns the receipts that say so."""

    dependencies = [
        ("detections", "0015_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="detection",
            name="frozen_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
