"""The "Everyone" audience: what the installation did before audiences, unchanged.

It hears about every detection, weekly, on the environment's channels (DIGEST_CHANNELS,
DIGEST_EMAIL_TO, DIGEST_TEAMS_WEBHOOK_URL). Every existing digest becomes its, and what each
detection's digest (or left-out mark) said becomes its receipts, so nothing is sent again.
"""

from datetime import UTC, datetime

from django.db import migrations
from django.db.migrations import exceptions

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def everyone_create(apps, schema_editor):
    Audience = apps.get_model("digests", "Audience")
    Digest = apps.get_model("digests", "Digest")
    everyone = Audience.objects.create(
        name="Everyone",
        use_settings_channels=True,
        cadence="weekly",
        starts_at=SINCE,
        levels=[],
        kinds=[],
        countries="",
        companies=[],
        email_to=[],
        teams_webhook_url="",
    )
    Digest.objects.filter(audience__isnull=True).update(audience=everyone)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO digests_receipt (audience_id, stream, digest_id, detection_id, chunk, left_out) "
            "SELECT %s, 'digest', digest_id, id, digest_chunk, left_out FROM detections_detection "
            "WHERE digest_id IS NOT NULL OR left_out <> ''",
            [everyone.pk],
        )


def everyone_remove(apps, schema_editor):
    """Back to one digest per detection: only possible while the installation's audience is the
    only one that received anything."""
    Audience = apps.get_model("digests", "Audience")
    Receipt = apps.get_model("digests", "Receipt")
    everyone = Audience.objects.filter(use_settings_channels=True).order_by("pk").first()
    others = Receipt.objects.exclude(audience=everyone).exists() or Receipt.objects.exclude(stream="digest").exists()
    if everyone is None or others:
        raise exceptions.IrreversibleError(
            "other audiences (or alerts) received detections: a detection can no longer be given one digest"
        )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE detections_detection d SET digest_id = r.digest_id, digest_chunk = r.chunk, left_out = r.left_out "
            "FROM digests_receipt r WHERE r.detection_id = d.id AND r.audience_id = %s AND r.stream = 'digest'",
            [everyone.pk],
        )
    apps.get_model("digests", "Receipt").objects.all().delete()
    apps.get_model("digests", "Digest").objects.exclude(audience=everyone).delete()
    apps.get_model("digests", "Digest").objects.update(audience=None)
    Audience.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0006_audiences"),
        ("detections", "0009_permissions"),
    ]

    operations = [migrations.RunPython(everyone_create, everyone_remove)]
