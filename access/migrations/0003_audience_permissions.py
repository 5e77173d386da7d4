"""Operators manage audiences (who hears about which executives, and where); Viewers do not see
them, as they hold recipients and Teams webhooks."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATORS = [("digests", "audience", f"{action}_audience") for action in ("view", "add", "change", "delete")]


def grant(apps, schema_editor):
    config = apps.get_app_config("digests")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Operators")
    for app_label, model, codename in OPERATORS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename)
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name="Operators").first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(codename__in=[c for _, _, c in OPERATORS]))


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_operators_and_viewers"),
        ("digests", "0008_digest_audience_required"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
