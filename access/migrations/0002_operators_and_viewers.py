"""The two roles: Viewers read; Operators also act (send, generate, edit rules, retry, unlock).

The permissions are listed here as they are at this migration; a later permission is granted
by a later migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWERS = [
    ("detections", "seniormember", "view_seniormember"),
    ("detections", "detection", "view_detection"),
    ("reports", "report", "view_report"),
    ("reports", "report", "download_report"),
]
OPERATORS = VIEWERS + [
    ("detections", "rawevent", "view_rawevent"),
    ("detections", "rawevent", "retry_rawevent"),
    ("detections", "seniormember", "reclassify_seniormember"),
    ("detections", "trackedfield", "view_trackedfield"),
    ("detections", "backfillrun", "view_backfillrun"),
    ("digests", "digest", "view_digest"),
    ("digests", "digest", "send_digest"),
    ("digests", "digestdelivery", "view_digestdelivery"),
    ("digests", "channelcircuit", "view_channelcircuit"),
    ("reports", "report", "generate_report"),
    ("classification", "storedruleset", "view_storedruleset"),
    ("classification", "storedruleset", "add_storedruleset"),
    ("classification", "storedruleset", "change_storedruleset"),
    ("access", "auditentry", "view_auditentry"),
    ("axes", "accessattempt", "view_accessattempt"),
    ("axes", "accessattempt", "delete_accessattempt"),
    ("django_celery_beat", "periodictask", "view_periodictask"),
    ("django_celery_beat", "periodictask", "change_periodictask"),
]


def groups_create(apps, schema_editor):
    # Permissions are normally created after all migrations ran; these groups need them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, granted in (("Viewers", VIEWERS), ("Operators", OPERATORS)):
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, model, codename in granted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename)
            )


def groups_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Viewers", "Operators"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("detections", "0009_permissions"),
        ("digests", "0005_permissions"),
        ("reports", "0002_permissions"),
        ("classification", "0001_initial"),
        ("axes", "0010_accessattemptexpiration"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
