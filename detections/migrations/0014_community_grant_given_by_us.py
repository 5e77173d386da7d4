"""Which roles and badges the write-back gave, so that it takes away only those
(COMMUNITY_WRITEBACK_TAKE_FROM=own, the default)."""

from django.db import migrations, models


def written_gives_mark(apps, schema_editor):
    """What the write-back has given so far is its own: a role given (the community does not say
    whether the member held it before, so it counts as given) or a badge awarded ("already held":
    someone else's)."""
    CommunityGrant = apps.get_model("detections", "CommunityGrant")
    CommunityGrant.objects.filter(wanted=True, status="done", result__in=["role given", "badge awarded"]).update(
        given_by_us=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("detections", "0013_community_grants"),
    ]

    operations = [
        migrations.AddField(
            model_name="communitygrant",
            name="given_by_us",
            field=models.BooleanField(
                default=False,
                help_text="The write-back gave it (the member did not hold it before) and has not taken it away "
                "since: with COMMUNITY_WRITEBACK_TAKE_FROM=own, only these are taken away.",
                verbose_name="given by the write-back",
            ),
        ),
        migrations.RunPython(written_gives_mark, migrations.RunPython.noop),
    ]
