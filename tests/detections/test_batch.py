"""The batch processor moves members exactly as the per-member path does."""

import random

import pytest

from detections import batch
from detections.models import Detection, PendingEvent, RawEvent, SeniorMember
from detections.services import member_events_process
from tests.detections.pending import assert_pending_is_unprocessed, events_unprocess_all
from tests.detections.replay import replay
from tests.detections.test_services import receive

pytestmark = pytest.mark.django_db
TITLES = ["VP of Sales", "Chief Executive Officer", "Engineer", "SVP Marketing", "CFO", "Director", "Intern"]


def random_history(rng: random.Random, members: int, events: int) -> list[tuple[str, str, str]]:
    """(user_id, field, value) in the order a community would send them."""
    history, titles = [], {}
    for _ in range(events):
        user_id = str(rng.randint(1, members))
        if rng.random() < 0.2:
            history.append((user_id, rng.choice(["Country", "Company"]), rng.choice(["Chile", "Acme", "Peru"])))
        else:
            title = rng.choice(TITLES)
            history.append((user_id, "Job Title", title))
            titles[user_id] = title
    return history


def send(history, previous=None):
    """Deliver `history`; `previous` carries each field's last value across calls (the oldValue)."""
    previous = {} if previous is None else previous
    for user_id, field, value in history:
        receive(user_id=user_id, field=field, value=value, old_value=previous.get((user_id, field), ""))
        previous[(user_id, field)] = value


def state():
    members = sorted(SeniorMember.objects.values_list("user_id", "title", "level", "country", "company"))
    detections = sorted(Detection.objects.values_list("user_id", "kind", "level", "title"))
    outcomes = list(RawEvent.objects.order_by("id").values_list("outcome", flat=True))
    return members, detections, outcomes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_gives_what_the_per_member_path_gives(seed):
    history = random_history(random.Random(seed), members=15, events=120)

    previous = {}
    for start in range(0, len(history), 20):  # later batches change members earlier ones stored
        send(history[start : start + 20], previous)
        while batch.events_process_batch(max_members=4)[0]:
            pass
    batched = state()
    assert_pending_is_unprocessed()

    SeniorMember.objects.all().delete()
    Detection.objects.all().delete()
    events_unprocess_all()
    for user_id in sorted({u for u, _, _ in history}):
        member_events_process(user_id=user_id)

    assert batched == state()
    assert not RawEvent.objects.filter(processed_at__isnull=True).exists()
    assert_pending_is_unprocessed()


def test_a_batch_matches_a_sequential_replay():
    history = random_history(random.Random(9), members=30, events=300)
    send(history)

    applied, more = batch.events_drain()

    members, detections = replay([(u, v) for u, f, v in history if f == "Job Title"])
    assert applied == RawEvent.objects.count() and not more
    assert not PendingEvent.objects.exists()
    assert {m.user_id: (m.title, m.level) for m in SeniorMember.objects.all()} == members
    assert sorted(Detection.objects.values_list("user_id", "kind", "level", "title")) == sorted(detections)


def test_removed_and_back_within_one_batch_is_a_new_member_with_a_new_first_detection():
    send([("1", "Job Title", "VP of Sales"), ("1", "Job Title", "Engineer"), ("1", "Job Title", "CEO")])

    batch.events_process_batch()

    assert SeniorMember.objects.get().level == "csuite"
    assert list(Detection.objects.order_by("id").values_list("kind", "level")) == [("first", "vp"), ("first", "csuite")]
    assert list(RawEvent.objects.order_by("id").values_list("outcome", flat=True)) == ["created", "removed", "created"]


def test_registrations_are_left_to_the_per_member_path(django_capture_on_commit_callbacks):
    from detections.services import IncomingEvent, event_receive

    event_receive(
        incoming=IncomingEvent(event_type="IdentityAccess.UserRegistered", user_id="77", payload={"userId": 77})
    )
    send([("78", "Job Title", "CFO")])

    with django_capture_on_commit_callbacks() as callbacks:
        applied, members = batch.events_process_batch()

    assert (applied, members) == (1, 2) and SeniorMember.objects.get().user_id == "78"
    assert RawEvent.objects.get(user_id="77").processed_at is None
    assert_pending_is_unprocessed()  # the registration is still pending, for the per-member path
    assert len(callbacks) == 1  # events_process_member("77")


def test_a_member_another_holder_has_is_looked_at_again(django_capture_on_commit_callbacks):
    import psycopg

    from detections.locks import PROCESSING_LOCK_NAMESPACE
    from detections.services import events_processing_wake
    from tests.fixtures.worker import database_url_for_tests

    send([("5", "Job Title", "CFO"), ("6", "Job Title", "VP of Sales")])
    with psycopg.connect(database_url_for_tests()) as other:  # a worker holding member 5
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext('5'))", [PROCESSING_LOCK_NAMESPACE])
        with django_capture_on_commit_callbacks() as callbacks:
            assert batch.events_process_batch() == (1, 2)

    assert RawEvent.objects.get(user_id="5").processed_at is None
    assert_pending_is_unprocessed()
    assert callbacks == [events_processing_wake]  # a wake-up, so member 5 is not left for the sweep


@pytest.mark.django_db(transaction=True)
def test_a_batch_commits_without_waiting_for_the_disk_and_intake_still_waits():
    from django.db import connection

    send([("1", "Job Title", "VP of Sales"), ("2", "Job Title", "CFO")])
    with connection.cursor() as cursor:  # durable, as production runs (the test server is not)
        cursor.execute("SET synchronous_commit = on")
    inside = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and not inside:  # marking events processed, inside the batch
            inside.append(context["connection"].connection.execute("SHOW synchronous_commit").fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        assert batch.events_process_batch() == (2, 2)

    assert inside == ["off"]
    with connection.cursor() as cursor:  # the same connection: intake's commits stay durable
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_marking_events_processed_is_a_hot_update():
    """No new index entries per applied event: the mark changes no indexed column, and the raw event's
    page has room for the new row version (fillfactor, migration 0006)."""
    from django.db import connection

    def updates() -> tuple[int, int]:
        # This backend's counts not yet sent to the shared statistics, which happens only between
        # transactions: the difference across the batch is the batch's own.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(c.oid), pg_stat_get_xact_tuples_hot_updated(c.oid) "
                "FROM pg_class c WHERE c.relname = 'detections_rawevent'"
            )
            return cursor.fetchone()

    send([(str(n), "Job Title", "VP of Sales") for n in range(40)])
    before = updates()

    assert batch.events_process_batch() == (40, 40)

    after = updates()
    assert (after[0] - before[0], after[1] - before[1]) == (40, 40)
