"""The whole intake path through a real Celery worker process, Redis and PostgreSQL."""

import random
import time
from collections import Counter
from datetime import UTC, datetime

import psycopg
import pytest

from captpathfinder.celery import app as celery_app
from detections.models import Detection, PendingEvent, RawEvent, SeniorMember
from tests.concurrency import run_together
from tests.conftest import profile_update, wait_until
from tests.detections.replay import replay_titles
from tests.fixtures.worker import broker_unreachable, database_url_for_tests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def all_processed() -> bool:
    return RawEvent.objects.exists() and not RawEvent.objects.filter(processed_at__isnull=True).exists()


def test_webhook_through_a_real_worker_becomes_a_detection(webhook, celery_worker):
    response = webhook.post(profile_update(user_id="2000", username="Jane Roe", value="Chief Technology Officer"))

    assert response.json()["status"] == "accepted"
    wait_until(lambda: Detection.objects.exists(), message="the worker to record the detection")
    detection = Detection.objects.get()
    assert (detection.user_id, detection.username, detection.kind, detection.level) == (
        "2000",
        "Jane Roe",
        "first",
        "csuite",
    )
    assert SeniorMember.objects.get().level == "csuite"
    assert RawEvent.objects.get().outcome == "created"


TITLES = [
    "VP of Sales",
    "Chief Executive Officer",
    "Software Engineer",
    "SVP Marketing",
    "CFO",
    "Sales Manager",
    "Director of Operations",
    "President",
    "Vice President, Engineering",
]


def test_per_member_order_holds_with_concurrent_workers(webhook, start_worker):
    """Many members, many changes each, redeliveries and extra task runs, four worker processes:
    the final state equals a sequential replay of the events in order received."""
    rng = random.Random(7)
    members = [str(500 + i) for i in range(12)]
    history = {m: ["Sales Manager"] for m in members}
    sent: list[tuple[str, str]] = []
    start_worker(concurrency=4)

    for _ in range(15):
        for member in rng.sample(members, len(members)):
            title = rng.choice([t for t in TITLES if t != history[member][-1]])
            payload = profile_update(user_id=member, value=title, old_value=history[member][-1])
            assert webhook.post(payload).json()["status"] == "accepted"
            if rng.random() < 0.2:  # a redelivery of the same event
                assert webhook.post(payload).json()["status"] == "duplicate"
            if rng.random() < 0.3:  # an extra, racing task for the same member
                celery_app.send_task("detections.tasks.events_process_member", args=[member])
            history[member].append(title)
            sent.append((member, title))

    wait_until(all_processed, timeout=120, message="all events to be processed")
    expected_members, expected_detections = replay_titles(sent)
    actual_members = {m.user_id: (m.title, m.level) for m in SeniorMember.objects.all()}
    assert actual_members == expected_members
    actual_detections = Counter(Detection.objects.values_list("user_id", "kind", "level", "title"))
    assert actual_detections == Counter(expected_detections)
    assert RawEvent.objects.count() == len(sent)


def test_concurrent_identical_deliveries_store_one_event(celery_worker):
    payload = profile_update(user_id="3000", value="EVP Finance")

    def deliver():
        from tests.conftest import WebhookClient

        return WebhookClient().post(payload).json()["status"]

    statuses = run_together(deliver, deliver, deliver)

    assert sorted(statuses) == ["accepted", "duplicate", "duplicate"]
    wait_until(all_processed, message="the event to be processed")
    assert RawEvent.objects.count() == 1
    assert Detection.objects.count() == 1


def test_events_received_while_the_broker_is_down_are_processed_after(webhook, start_worker):
    with broker_unreachable():
        started = time.monotonic()
        responses = [webhook.post(profile_update(user_id=str(4000 + i), value="CMO")) for i in range(3)]
        elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [202, 202, 202]
    assert [r.json()["status"] for r in responses] == ["accepted"] * 3
    assert elapsed < 10  # the sender is not kept waiting on the outage
    assert RawEvent.objects.filter(processed_at__isnull=True).count() == 3

    start_worker()
    celery_app.send_task("detections.tasks.events_sweep_unprocessed", kwargs={})
    # The beat task sweeps events older than the threshold; here the threshold is the default 60 s,
    # so make the events look old enough, as they would be after a real outage.
    long_ago = RawEvent.objects.first().received_at.replace(year=2020)
    RawEvent.objects.update(received_at=long_ago)
    PendingEvent.objects.update(received_at=long_ago)
    celery_app.send_task("detections.tasks.events_sweep_unprocessed", kwargs={})

    wait_until(all_processed, message="the sweep to get the stored events processed")
    assert SeniorMember.objects.count() == 3
    assert not PendingEvent.objects.exists()
    assert Detection.objects.count() == 3


def test_a_worker_killed_mid_task_loses_nothing_and_applies_nothing_twice(webhook, start_worker):
    # The event is stored and its task queued while no worker runs.
    webhook.post(profile_update(user_id="5000", value="Chief Operating Officer"))
    with psycopg.connect(database_url_for_tests().replace("postgres://", "postgresql://"), autocommit=False) as blocker:
        # Hold the event's row so the worker's batch stops half-way, inside its transaction: it has
        # created the member and waits to mark the event processed.
        blocker.execute("SELECT id FROM detections_rawevent WHERE user_id = '5000' FOR UPDATE")
        worker = start_worker(concurrency=1)
        wait_until(
            lambda: blocker.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0],
            message="the worker to be blocked in the middle of the task",
        )
        worker.kill()
        blocker.rollback()

    assert RawEvent.objects.get().processed_at is None
    assert PendingEvent.objects.get().event_id == RawEvent.objects.get().id  # still pending: rolled back
    assert not SeniorMember.objects.exists()

    start_worker()
    long_ago = RawEvent.objects.get().received_at.replace(year=2020)
    RawEvent.objects.update(received_at=long_ago)
    PendingEvent.objects.update(received_at=long_ago)
    celery_app.send_task("detections.tasks.events_sweep_unprocessed", kwargs={})
    wait_until(all_processed, message="the event to be processed after the crash")
    time.sleep(6)  # past the visibility timeout: the killed task's message comes back and runs again

    assert Detection.objects.count() == 1
    assert RawEvent.objects.get().outcome == "created"


def test_registration_and_enrichment_run_in_the_worker_against_the_community_api(webhook, start_worker):
    from tests.fakes.insided import FakeInsided

    fake = FakeInsided().start()
    joined = datetime(2019, 10, 10, 14, 7, 21, tzinfo=UTC)
    try:
        fake.add_user(
            12, username="Jane", job_title="Chief Marketing Officer", country="Spain", company="Acme", joined=joined
        )
        fake.add_user(13, username="Raj", job_title="VP Engineering", country="India", company="Globex")
        start_worker(
            extra_env={
                "COMMUNITY_API_URL": fake.url,
                "COMMUNITY_CLIENT_ID": fake.client_id,
                "COMMUNITY_CLIENT_SECRET": fake.client_secret,
            }
        )
        registered = webhook.post(
            {"userId": 12, "date": "2019-10-10T16:07:21+02:00"},
            path="/webhooks/community/IdentityAccess.UserRegistered",
        )
        updated = webhook.post(profile_update(user_id="13", value="VP Engineering"))  # no country/company
        assert registered.json()["status"] == updated.json()["status"] == "accepted"

        # Two independent tasks: the registration's profile fetch and apply, the update's enrichment.
        wait_until(
            lambda: (
                SeniorMember.objects.filter(pk="13", enriched_at__isnull=False).exists()
                and SeniorMember.objects.filter(pk="12").exists()
            ),
            message="the worker to register one member and enrich the other",
        )
        jane = SeniorMember.objects.get(pk="12")  # read from a User shaped as the User API documents it
        assert (jane.username, jane.title, jane.level) == ("Jane", "Chief Marketing Officer", "csuite")
        assert (jane.country, jane.company, jane.joined_at) == ("Spain", "Acme", joined)
        member = SeniorMember.objects.get(pk="13")
        assert (member.country, member.company) == ("India", "Globex")
        assert Detection.objects.get(user_id="13").company == "Globex"
    finally:
        fake.stop()


def test_a_poison_member_does_not_hold_up_thirty_others(webhook, start_worker):
    """A member whose event the database refuses (stored before the door refused such values) is
    set aside; the thirty members sent after it are applied within seconds."""
    from tests.factories import RawEventFactory, SeniorMemberFactory

    SeniorMemberFactory(user_id="6000", title="VP of Sales", level="vp")
    RawEventFactory(user_id="6000", field="Company", field_role="company", value="x" * 300)
    for n in range(30):
        assert webhook.post(profile_update(user_id=str(6001 + n), value="VP of Sales")).status_code == 202
    start_worker()
    started = time.monotonic()

    wait_until(
        lambda: SeniorMember.objects.filter(user_id__gt="6000").count() == 30,
        timeout=30,
        message="the thirty ordinary members to be applied",
    )
    assert time.monotonic() - started < 15
    assert RawEvent.objects.get(user_id="6000").outcome == "failed"
    assert not PendingEvent.objects.exists()


def test_a_detection_is_dated_by_the_webhook_not_by_the_worker_that_was_away(webhook, start_worker):
    from django.utils import timezone

    sent_at = timezone.now()
    assert webhook.post(profile_update(user_id="6100", value="Chief Operating Officer")).status_code == 202
    time.sleep(5)  # no worker for five seconds
    start_worker()

    wait_until(lambda: Detection.objects.exists(), message="the worker to record the detection")
    detection = Detection.objects.get()
    assert abs((detection.detected_at - sent_at).total_seconds()) < 1
    assert detection.detected_at == RawEvent.objects.get().received_at
    assert (RawEvent.objects.get().processed_at - detection.detected_at).total_seconds() > 4


def test_a_catastrophic_rule_holds_no_worker(webhook, start_worker, admin_user):
    from classification import services as classification_services
    from classification.models import StoredRuleset

    # Given the incident's ruleset stored and active: the shipped rules plus `(?:x+x+)+y`, which
    # held a worker at 100 % CPU for 3.5 minutes on a title of 40 x's under Python's re
    incident = "  - id: none.incident\n    level: none\n    pattern: '(?:x+x+)+y'\n"
    content = classification_services.ruleset_shipped_text().replace("roles:\n", "roles:\n" + incident, 1)
    stored = classification_services.ruleset_store(
        content=content.replace('version: "', 'version: "incident-', 1),
        change_note="the incident's pattern",
        user=admin_user,
        activate=True,
    )
    try:
        # When that title arrives first, then thirty other members' changes, at one worker process
        assert webhook.post(profile_update(user_id="6200", value="x" * 40)).status_code == 202
        for n in range(30):
            assert webhook.post(profile_update(user_id=str(6201 + n), value="VP of Sales")).status_code == 202
        start_worker(concurrency=1)
        started = time.monotonic()

        # Then everyone is applied at once, by the incident's rules
        wait_until(all_processed, timeout=60, message="the forty x's and the thirty members to be applied")
        assert time.monotonic() - started < 20
        assert RawEvent.objects.get(user_id="6200").outcome not in ("failed", None)
        members = SeniorMember.objects.all()
        assert len(members) == 30 and {m.rules_version for m in members} == {stored.version}
    finally:
        StoredRuleset.objects.update(is_active=False)
        classification_services.ruleset_reload(force=True)
