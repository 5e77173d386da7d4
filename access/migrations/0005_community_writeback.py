"""Operators watch the community write-back and retry its failed changes; Viewers watch it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Operators": ["view_communitygrant", "retry_communitygrant"],
    "Viewers": ["view_communitygrant"],
}


def grant(apps, schema_editor):
    config = apps.get_app_config("detections")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="detections", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = apps.get_model("auth", "Group").objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*Permission.objects.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0004_corrections_and_labels"),
        ("detections", "0013_community_grants"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
