"""Operators correct members' levels and keep the confirmed labels (titles whose level a person
confirmed); Viewers read the labels."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Operators": [
        *(f"{action}_confirmedlabel" for action in ("view", "add", "change", "delete")),
        "correct_seniormember",
    ],
    "Viewers": ["view_confirmedlabel"],
}


def grant(apps, schema_editor):
    for label in ("classification", "detections"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label__in=["classification", "detections"], codename__in=codenames
            )
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = apps.get_model("auth", "Group").objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*Permission.objects.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0003_audience_permissions"),
        ("classification", "0002_confirmed_labels"),
        ("detections", "0012_member_pins"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
