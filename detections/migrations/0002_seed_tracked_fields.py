from django.db import migrations

SEED = [("Job Title", "job_title"), ("Country", "country"), ("Company", "company")]


def seed(apps, schema_editor):
    TrackedField = apps.get_model("detections", "TrackedField")
    for name, role in SEED:
        TrackedField.objects.get_or_create(name=name, defaults={"role": role, "is_active": True})


class Migration(migrations.Migration):
    dependencies = [("detections", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
