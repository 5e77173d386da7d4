import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0007_everyone_audience"),
    ]

    operations = [
        migrations.AlterField(
            model_name="digest",
            name="audience",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="digests", to="digests.audience"
            ),
        ),
    ]
