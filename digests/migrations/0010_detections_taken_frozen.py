from django.db import migrations
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now


def detections_taken_freeze(apps, schema_editor):
    """Detections an audience already took (any receipt, as the follow update read them before)
    stop following their members. Through the models: digests names no table of detections."""
    Detection = apps.get_model("detections", "Detection")
    Receipt = apps.get_model("digests", "Receipt")
    taken = Receipt.objects.filter(detection_id=OuterRef("pk"))
    Detection.objects.filter(Exists(taken), frozen_at__isnull=True).update(frozen_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0009_function"),
        ("detections", "0016_detection_frozen_at"),
    ]

    operations = [migrations.RunPython(detections_taken_freeze, migrations.RunPython.noop)]
