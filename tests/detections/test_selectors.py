"""The batch worker's look-ups: what they return, and plans that do not depend on statistics."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from detections import selectors
from detections.models import RawEvent
from detections.services.processing import events_process_batch
from tests.detections.services.helpers import receive

pytestmark = pytest.mark.django_db


def stored(user_id, role, value, *, outcome="attributes_updated", processed=True):
    return RawEvent.objects.create(
        user_id=user_id,
        field=role.title(),
        field_role=role,
        value=value,
        payload={},
        idempotency_key=f"{user_id}-{role}-{value}",
        outcome=outcome,
        processed_at=timezone.now() if processed else None,
    )


def test_attributes_latest_sent_takes_each_fields_latest_applied_value():
    stored("1", "country", "France")
    stored("1", "country", " Germany ")
    stored("1", "company", "Acme")
    stored("1", "company", "Broken Co", outcome=RawEvent.Outcome.FAILED)
    stored("1", "company", "Not yet", processed=False)
    stored("2", "job_title", "VP of Sales")

    latest = selectors.attributes_latest_sent(user_ids=["1", "2", "3"])

    assert latest == {"1": {"country": "Germany", "company": "Acme"}}
    assert selectors.attributes_latest_sent(user_ids=[]) == {}


def test_members_set_aside_are_those_with_a_failed_event():
    stored("1", "country", "France", outcome=RawEvent.Outcome.FAILED)
    stored("2", "country", "France")

    assert selectors.members_set_aside(user_ids={"1", "2", "3"}) == {"1"}
    assert selectors.members_set_aside(user_ids=set()) == set()


def test_a_batch_probes_raw_events_and_detections_by_member_on_tables_without_statistics():
    """A fresh installation hit by a burst has no statistics yet (autovacuum's first analyze comes
    later). The batch's statements must still reach the members' rows through an index: planned
    as scans of the whole tables, they were a third of the database's CPU per webhook."""
    with connection.cursor() as cursor:
        # Emptied, so never analyzed whatever earlier tests left (TRUNCATE resets the statistics;
        # rolled back with the test), and out of autovacuum's reach until the test ends.
        cursor.execute("TRUNCATE detections_rawevent, detections_pendingevent, detections_detection CASCADE")
        for table in ("detections_rawevent", "detections_detection"):
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")  # noqa: S608 (constants)
        cursor.execute(
            "INSERT INTO detections_rawevent (event_type, user_id, username, field, field_role, value, old_value, "
            "payload, idempotency_key, received_at, processed_at, outcome, error) "
            "SELECT 'integration.UserProfileUpdated', (g % 5000)::text, '', 'Country', 'country', 'France', '', "
            "'{}', md5(g::text), now(), now(), 'not_a_member', '' FROM generate_series(1, 30000) AS g"
        )
        cursor.execute(
            "INSERT INTO detections_detection (user_id, username, title, level, function, country, company, kind, "
            "detected_at, recorded_at, rules_version) SELECT (g % 5000)::text, '', 'VP of Sales', 'vp', 'sales', "
            "'', '', 'first', now(), now(), 'test' FROM generate_series(1, 10000) AS g"
        )
        cursor.execute(
            "SELECT max(reltuples) FROM pg_class WHERE relname IN ('detections_rawevent', 'detections_detection')"
        )
        assert cursor.fetchone()[0] < 0  # never analyzed
    for user_id in ("7001", "7002", "7003"):
        receive(user_id=user_id, value="VP of Sales")
    events_process_batch()
    for user_id in ("7001", "7002", "7003", *map(str, range(300))):  # a batch of a burst's size
        receive(user_id=user_id, field="Country", value="Spain")
        receive(user_id=user_id, field="Company", value="Acme")

    with CaptureQueriesContext(connection) as batch:
        events_process_batch()

    plans = {}
    with connection.cursor() as cursor:
        for query in batch.captured_queries:
            sql = query["sql"]
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                cursor.execute(f"EXPLAIN {sql}")
                plans[sql] = "\n".join(row[0] for row in cursor.fetchall())
    assert len(plans) >= 5
    whole_scans = {
        sql[:120]: plan
        for sql, plan in plans.items()
        if "Seq Scan on detections_rawevent" in plan or "Seq Scan on detections_detection" in plan
    }
    assert whole_scans == {}
    assert RawEvent.objects.filter(user_id="7001", field_role="company", outcome="attributes_updated").exists()
