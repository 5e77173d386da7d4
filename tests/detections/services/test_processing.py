"""Applying stored events: batches against an independent replay, the per-member path, the sweep."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from detections.models import Detection, PendingEvent, RawEvent, SeniorMember
from detections.services.processing import (
    events_drain,
    events_process_batch,
    events_sweep_unprocessed,
    member_events_process,
)
from tests.detections.pending import assert_pending_is_unprocessed
from tests.detections.replay import replay
from tests.detections.services.helpers import receive, register, send
from tests.factories import RawEventFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db
TITLES = ["VP of Sales", "Chief Executive Officer", "Engineer", " SVP Marketing", "CFO", "Director", "Intern"]


def random_history(rng: random.Random, members: int, events: int) -> list[tuple[str, str, str]]:
    """(user_id, field, value) in the order a community would send them."""
    history = []
    for _ in range(events):
        user_id = str(rng.randint(1, members))
        if rng.random() < 0.2:
            history.append((user_id, rng.choice(["Country", "Company"]), rng.choice(["Chile", " Acme", "Peru"])))
        else:
            history.append((user_id, "Job Title", rng.choice(TITLES)))
    return history


def stored_events() -> list[tuple[str, str, str]]:
    """What intake stored, in the order it is applied (what was ignored at the door is not there)."""
    return list(RawEvent.objects.order_by("id").values_list("user_id", "field", "value"))


def assert_state_is_the_replay_of_what_was_stored():
    members, detections = replay(stored_events())
    assert {m.user_id: (m.title, m.level, m.country, m.company) for m in SeniorMember.objects.all()} == members
    stored = Detection.objects.values_list("user_id", "kind", "level", "title", "country", "company")
    assert sorted(stored) == sorted(detections)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_give_what_a_sequential_replay_gives(seed):
    history = random_history(random.Random(seed), members=15, events=120)

    previous = {}
    for start in range(0, len(history), 20):  # later batches change members earlier ones stored
        send(history[start : start + 20], previous)
        while events_process_batch(max_members=4)[0]:
            pass

    assert_state_is_the_replay_of_what_was_stored()
    assert not RawEvent.objects.filter(processed_at__isnull=True).exists()
    assert_pending_is_unprocessed()


def test_one_drain_gives_what_a_sequential_replay_gives():
    send(random_history(random.Random(9), members=30, events=300))

    applied, more = events_drain()

    assert applied == RawEvent.objects.count() and not more
    assert not PendingEvent.objects.exists()
    assert_state_is_the_replay_of_what_was_stored()


def test_members_one_at_a_time_give_what_a_sequential_replay_gives():
    history = random_history(random.Random(5), members=10, events=80)
    send(history)

    for user_id in sorted({user_id for user_id, _, _ in history}):
        member_events_process(user_id=user_id)

    assert_state_is_the_replay_of_what_was_stored()
    assert_pending_is_unprocessed()


def test_processing_twice_applies_once():
    receive(user_id="1", value="CEO")

    assert member_events_process(user_id="1") == 1
    assert member_events_process(user_id="1") == 0
    assert events_process_batch() == (0, 0)
    assert Detection.objects.count() == 1


def test_registrations_are_left_to_the_per_member_path(django_capture_on_commit_callbacks):
    register(77)
    send([("78", "Job Title", "CFO")])

    with django_capture_on_commit_callbacks() as callbacks:
        applied, members = events_process_batch()

    assert (applied, members) == (1, 2) and SeniorMember.objects.get().user_id == "78"
    assert RawEvent.objects.get(user_id="77").processed_at is None
    assert_pending_is_unprocessed()  # the registration is still pending, for the per-member path
    assert len(callbacks) == 1  # events_process_member("77")


def test_a_member_another_holder_has_is_looked_at_again(django_capture_on_commit_callbacks):
    import psycopg

    from detections.locks import PROCESSING_LOCK_NAMESPACE
    from detections.services.intake import events_processing_wake
    from tests.fixtures.worker import database_url_for_tests

    send([("5", "Job Title", "CFO"), ("6", "Job Title", "VP of Sales")])
    with psycopg.connect(database_url_for_tests()) as other:  # a worker holding member 5
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext('5'))", [PROCESSING_LOCK_NAMESPACE])
        with django_capture_on_commit_callbacks() as callbacks:
            assert events_process_batch() == (1, 2)

    assert RawEvent.objects.get(user_id="5").processed_at is None
    assert_pending_is_unprocessed()
    assert callbacks == [events_processing_wake]  # a wake-up, so member 5 is not left for the sweep


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("process", [events_process_batch, lambda: member_events_process(user_id="1")])
def test_applying_commits_without_waiting_for_the_disk_and_intake_still_waits(process):
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
        process()

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

    assert events_process_batch() == (40, 40)

    after = updates()
    assert (after[0] - before[0], after[1] - before[1]) == (40, 40)


# --- registration, through the fake inSided API ------------------------------------------------


def test_registration_fetches_the_profile_and_classifies_it(insided):
    insided.add_user(12, username="Jane", job_title="Chief Financial Officer", country="US", company="Acme")
    register(12)

    member_events_process(user_id="12")

    member = SeniorMember.objects.get()
    assert (member.username, member.level, member.country, member.company) == ("Jane", "csuite", "US", "Acme")
    assert member.joined_at.year == 2019
    assert RawEvent.objects.get().outcome == "created"


def test_registration_of_a_non_senior_stores_nobody(insided):
    insided.add_user(13, job_title="Marketing Manager")
    register(13)

    member_events_process(user_id="13")

    assert not SeniorMember.objects.exists()
    assert RawEvent.objects.get().outcome == "not_senior"


def published_tasks(run) -> list[tuple[str, tuple]]:
    """(task name, args) of each task `run()` sends to the broker."""
    from celery.signals import before_task_publish

    published = []

    def capture(sender, body, **kwargs):
        published.append((sender, tuple(body[0])))

    before_task_publish.connect(capture)
    try:
        run()
    finally:
        before_task_publish.disconnect(capture)
    return published


def test_registration_during_a_community_outage_waits_and_is_applied_once_it_answers(
    insided, purge_queue, django_capture_on_commit_callbacks
):
    from detections.tasks import events_process_member
    from integrations.insided.errors import CommunityUnavailable

    insided.add_user(14, job_title="Chief Financial Officer", country="US", company="Acme")
    register(14)
    receive(user_id="14", value="Chief Executive Officer", old_value="Chief Financial Officer")
    insided.failures = [503] * 3  # one attempt's quick retries, all 503

    with pytest.raises(CommunityUnavailable, match="user 14: HTTP 503: Internal Server Error"):
        member_events_process(user_id="14")

    assert insided.user_requests == 3  # bounded retries
    assert list(RawEvent.objects.values_list("outcome", "processed_at")) == [("", None), ("", None)]
    assert PendingEvent.objects.filter(awaiting_community_since__isnull=False).count() == 1  # the registration
    assert_pending_is_unprocessed()
    assert not SeniorMember.objects.exists()

    # Batches leave the waiting member to the sweep, and go on with everyone else.
    send([("78", "Job Title", "CFO")])

    def batch():
        with django_capture_on_commit_callbacks(execute=True):
            assert events_process_batch() == (1, 1)

    assert published_tasks(batch) == [("detections.tasks.member_enrich", ("78",))]  # no hand-off of member 14
    assert SeniorMember.objects.get().user_id == "78"

    # The community answers again: the sweep brings the member back, and its task applies both events.
    published = published_tasks(lambda: events_sweep_unprocessed(older_than_seconds=0))
    assert published == [("detections.tasks.events_process_member", ("14",))]
    assert events_process_member("14") == 2

    member = SeniorMember.objects.get(pk="14")
    assert (member.title, member.level, member.company) == ("Chief Executive Officer", "csuite", "Acme")
    outcomes = RawEvent.objects.filter(user_id="14").order_by("id").values_list("outcome", flat=True)
    assert list(outcomes) == ["created", "updated"]  # in the order received
    assert not PendingEvent.objects.exists()
    assert events_process_member("14") == 0  # exactly once
    assert Detection.objects.filter(user_id="14").count() == 1


def test_registration_while_the_community_refuses_connections_waits_and_the_task_ends_quietly(
    insided, settings, caplog
):
    from detections.tasks import events_process_member
    from tests.fakes.http import refusing_url

    insided.add_user(15, job_title="VP of Sales")
    register(15)
    settings.COMMUNITY_API_URL = refusing_url()

    assert events_process_member("15") == 0  # no failure, no Celery retry: the sweep brings it back

    assert "member 15: registration waits for the community" in caplog.text
    event = RawEvent.objects.get()
    assert (event.outcome, event.processed_at, event.error) == ("", None, "")
    assert_pending_is_unprocessed()

    settings.COMMUNITY_API_URL = insided.url
    assert events_process_member("15") == 1

    assert RawEvent.objects.get().outcome == "created"
    assert SeniorMember.objects.get().level == "vp"


def test_registration_of_a_user_the_community_does_not_know_is_recorded_not_retried(insided):
    register(17)  # not in the community: 404, which another try would not change

    member_events_process(user_id="17")

    event = RawEvent.objects.get()
    assert event.outcome == "profile_unavailable" and event.processed_at is not None
    assert event.error == "community profile unavailable: user 17: HTTP 404"
    assert insided.user_requests == 1
    assert not PendingEvent.objects.exists()


def test_registration_whose_profile_lacks_the_job_title_field_says_so_on_its_event(insided):
    insided.add_user(15, username="Lee", country="Chile", company="Acme")  # no Job Title field
    register(15)

    member_events_process(user_id="15")

    event = RawEvent.objects.get()
    assert event.outcome == "profile_unavailable"
    assert "has no 'Job Title' profile field" in event.error
    assert not SeniorMember.objects.exists()


def test_registration_whose_profile_overflows_its_columns_is_stored_cut_not_set_aside(insided):
    insided.add_user(16, username="N" * 300, job_title="Chief Executive Officer", country="C" * 300, company="A" * 300)
    register(16)

    member_events_process(user_id="16")

    member = SeniorMember.objects.get()
    assert (member.username, member.country, member.company) == ("N" * 254 + "…", "C" * 254 + "…", "A" * 254 + "…")
    assert Detection.objects.get().company == "A" * 254 + "…"
    assert RawEvent.objects.get().outcome == "created"


def test_a_joined_at_stored_out_of_range_before_the_check_is_left_out():
    receive(user_id="26", value="CEO", country="Chile", company="Acme", joined_at="0001-01-01T00:00:00Z")

    events_drain()

    member = SeniorMember.objects.get()
    assert (member.level, member.company, member.joined_at) == ("csuite", "Acme", None)


def test_new_member_without_attributes_is_queued_for_enrichment(insided, django_capture_on_commit_callbacks):
    receive(user_id="27", value="CEO")
    receive(user_id="28", value="CEO", country="Chile", company="Acme")

    with django_capture_on_commit_callbacks() as callbacks:
        events_process_batch()

    assert len(callbacks) == 1  # member_enrich.delay("27"), run by the worker in production


# --- the outbox sweep --------------------------------------------------------------------------


def test_stale_members_are_found_oldest_first():
    from detections.selectors import members_with_stale_events

    now = timezone.now()
    RawEventFactory(user_id="late", received_at=now - timedelta(minutes=5))
    RawEventFactory(user_id="early", received_at=now - timedelta(minutes=50))
    RawEventFactory(user_id="fresh", received_at=now)
    RawEventFactory(user_id="done", received_at=now - timedelta(hours=1), processed_at=now)

    assert members_with_stale_events(received_before=now - timedelta(minutes=1), limit=10) == ["early", "late"]


def test_the_sweep_enqueues_each_stale_member_once(purge_queue):
    from celery.signals import before_task_publish

    published = []

    def capture(sender, body, **kwargs):
        published.append((sender, tuple(body[0])))

    now = timezone.now()
    for _ in range(2):
        RawEventFactory(user_id="a", received_at=now - timedelta(minutes=5))
    RawEventFactory(user_id="b", received_at=now - timedelta(minutes=2))
    SeniorMemberFactory(user_id="c")
    before_task_publish.connect(capture)
    try:
        assert events_sweep_unprocessed(older_than_seconds=60) == 2
    finally:
        before_task_publish.disconnect(capture)

    task = "detections.tasks.events_process_member"
    assert published == [(task, ("a",)), (task, ("b",))]


# --- a member whose events cannot be applied ---------------------------------------------------------


def poison(user_id="p"):
    """A member and an event the database refuses (a Company of 300 characters, as intake stored
    them before the webhook refused values longer than their column)."""
    SeniorMemberFactory(user_id=user_id, title="VP of Sales", level="vp")
    return RawEventFactory(user_id=user_id, field="Company", field_role="company", value="x" * 300)


def test_a_member_that_cannot_be_applied_is_set_aside_and_the_batch_commits(client):
    bad = poison()
    send([(str(n), "Job Title", "VP of Sales") for n in range(30)])
    receive(user_id="p", value="Chief Executive Officer")  # in the same batch, after the bad one

    applied, more = events_drain()

    assert SeniorMember.objects.filter(level="vp").exclude(pk="p").count() == 30
    failed = RawEvent.objects.filter(outcome="failed").order_by("id")
    assert [e.id for e in failed][0] == bad.id and failed.count() == 2
    assert all("DataError" in e.error and e.processed_at for e in failed)
    assert SeniorMember.objects.get(pk="p").level == "vp"  # as it was: nothing of its batch applied
    assert_pending_is_unprocessed()
    ready = client.get("/health/ready").json()["checks"]["set_aside"]
    assert ready == {
        "ok": True,
        "detail": "2 events of 1 member set aside: retry in the admin (Raw events, outcome failed)",
    }


def test_a_member_set_aside_holds_its_later_events_back_until_retried():
    from detections.services.processing import events_retry_failed

    bad = poison()
    events_drain()
    receive(user_id="p", value="Chief Executive Officer")
    events_drain()

    later = RawEvent.objects.get(user_id="p", field="Job Title")
    assert (later.outcome, later.error) == (
        "failed",
        "Held back: an earlier event of this member failed; retry the member.",
    )

    RawEvent.objects.filter(pk=bad.pk).update(value="Acme")  # the cause fixed (here: the data itself)
    assert events_retry_failed(user_ids=["p"], user=None, via="admin") == 2
    events_drain()

    member = SeniorMember.objects.get(pk="p")
    assert (member.company, member.level) == ("Acme", "csuite")
    assert list(RawEvent.objects.filter(user_id="p").order_by("id").values_list("outcome", flat=True)) == [
        "attributes_updated",
        "promoted",
    ]
    assert_pending_is_unprocessed()


def test_the_database_being_away_is_not_a_member_to_set_aside(monkeypatch):
    """An OperationalError is the database's, not the data's: the batch fails whole, for a retry."""
    from django.db import OperationalError

    from detections.services import members

    send([("1", "Job Title", "CFO")])

    def away(self):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(members.MemberStates, "save", away)
    with pytest.raises(OperationalError):
        events_drain()
    assert not RawEvent.objects.filter(outcome="failed").exists()
