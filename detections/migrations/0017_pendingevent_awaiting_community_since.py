from django.db import migrations, models


class Migration(migrations.Migration):
    """A nullable column without a default: PostgreSQL adds it without rewriting the table, and
    intake's function, which names its columns, is unchanged."""

    dependencies = [
        ("detections", "0016_detection_frozen_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingevent",
            name="awaiting_community_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
