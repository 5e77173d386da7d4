"""Operators watch the CRM hand-offs, retry them and pick ambiguous accounts; Viewers watch them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Operators": ["view_handoff", "retry_handoff", "pick_account", "view_accountpick", "delete_accountpick"],
    "Viewers": ["view_handoff", "view_accountpick"],
}


def grant(apps, schema_editor):
    config = apps.get_app_config("crm")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="crm", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = apps.get_model("auth", "Group").objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*Permission.objects.filter(content_type__app_label="crm", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("access", "0005_community_writeback"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
