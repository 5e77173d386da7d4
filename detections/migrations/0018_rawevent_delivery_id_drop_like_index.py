from django.db import migrations

LIKE_INDEX = "detections_rawevent_delivery_id_3ee13d38_like"


class Migration(migrations.Migration):
    """Drop the varchar_pattern_ops index Django adds beside a unique CharField's own index.

    It serves only LIKE 'prefix%', and nothing asks that of delivery_id: intake looks a delivery up
    by equality, which the unique index serves, and the admin's search is icontains, which no btree
    serves. Every intake call wrote it all the same: about a quarter of the WAL per call. No state
    change: the model still says unique=True, and a later alteration of the column that makes
    Django drop the index does so IF EXISTS (one that changes its type creates it again: drop it
    again then).
    """

    dependencies = [
        ("detections", "0017_pendingevent_awaiting_community_since"),
    ]

    operations = [
        migrations.RunSQL(
            f"DROP INDEX IF EXISTS {LIKE_INDEX}",
            reverse_sql=f"CREATE INDEX IF NOT EXISTS {LIKE_INDEX} ON detections_rawevent "
            "(delivery_id varchar_pattern_ops)",
        ),
    ]
