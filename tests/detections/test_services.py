"""The member state machine and the services around it, against the real database."""

import threading
import time
from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.utils import timezone

from detections import services
from detections.models import Detection, PendingEvent, RawEvent, SeniorMember
from detections.services import IncomingEvent, event_receive, member_events_process
from tests.detections.pending import assert_pending_is_unprocessed
from tests.factories import RawEventFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


def receive(user_id="2000", value="VP of Sales", old_value="", field="Job Title", **payload_extra):
    payload = {"userId": user_id, "profileField": field, "value": value, "oldValue": old_value, **payload_extra}
    incoming = IncomingEvent(
        event_type=RawEvent.EventType.PROFILE_UPDATED,
        user_id=user_id,
        username=f"Member {user_id}",
        field=field,
        value=value,
        old_value=old_value,
        payload=payload,
    )
    return event_receive(incoming=incoming)


def apply_titles(user_id, *titles):
    previous = ""
    for title in titles:
        receive(user_id=user_id, value=title, old_value=previous)
        previous = title
    member_events_process(user_id=user_id)
    return list(RawEvent.objects.filter(user_id=user_id).order_by("id").values_list("outcome", flat=True))


def test_non_senior_title_stores_nobody():
    assert apply_titles("1", "Software Engineer") == ["not_senior"]
    assert not SeniorMember.objects.exists()
    assert not Detection.objects.exists()


def test_becoming_senior_creates_member_and_first_detection():
    assert apply_titles("1", "VP of Sales") == ["created"]

    member = SeniorMember.objects.get()
    assert (member.user_id, member.title, member.level, member.username) == ("1", "VP of Sales", "vp", "Member 1")
    assert member.rules_version
    detection = Detection.objects.get()
    assert (detection.kind, detection.level, detection.title, detection.rules_version) == (
        "first",
        "vp",
        "VP of Sales",
        member.rules_version,
    )
    assert detection.event_id == RawEvent.objects.get().id


def test_vp_to_csuite_records_a_promotion():
    assert apply_titles("1", "VP of Sales", "Chief Revenue Officer") == ["created", "promoted"]

    assert SeniorMember.objects.get().level == "csuite"
    assert list(Detection.objects.order_by("id").values_list("kind", "level")) == [
        ("first", "vp"),
        ("promotion", "csuite"),
    ]


def test_csuite_to_vp_updates_without_detection():
    assert apply_titles("1", "CEO", "VP of Sales") == ["created", "updated"]

    assert SeniorMember.objects.get().level == "vp"
    assert Detection.objects.count() == 1


def test_new_title_at_same_level_updates_only():
    assert apply_titles("1", "VP of Sales", "SVP Marketing") == ["created", "updated"]

    assert SeniorMember.objects.get().title == "SVP Marketing"
    assert Detection.objects.count() == 1


def test_stopping_being_senior_removes_the_member_but_keeps_history():
    assert apply_titles("1", "VP of Sales", "Consultant") == ["created", "removed"]

    assert not SeniorMember.objects.exists()
    assert Detection.objects.count() == 1


def test_change_back_within_retention_ends_with_member_present():
    # VP -> Engineer -> VP: the original's content hash dropped the third event as a duplicate.
    receive(user_id="1", value="VP of Sales", old_value="Sales Manager")
    receive(user_id="1", value="Engineer", old_value="VP of Sales")
    receipt = receive(user_id="1", value="VP of Sales", old_value="Engineer")
    member_events_process(user_id="1")

    assert receipt.status == "accepted"
    assert SeniorMember.objects.get().title == "VP of Sales"
    assert list(Detection.objects.values_list("kind", flat=True)) == ["first", "first"]


def test_redelivery_gives_no_second_event_or_detection():
    first = receive(user_id="1", value="CEO")
    again = receive(user_id="1", value="CEO")
    member_events_process(user_id="1")
    third = receive(user_id="1", value="CEO")
    member_events_process(user_id="1")

    assert (first.status, again.status, third.status) == ("accepted", "duplicate", "duplicate")
    assert again.event_id == third.event_id == first.event_id
    assert Detection.objects.count() == 1


def test_payload_attributes_are_stored_on_member_and_detection():
    receive(user_id="1", value="CFO", country="France", company="Acme", joined_at="2020-01-02T03:04:05Z")
    member_events_process(user_id="1")

    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.joined_at.year) == ("France", "Acme", 2020)
    detection = Detection.objects.get()
    assert (detection.country, detection.company) == ("France", "Acme")


def test_country_and_company_changes_update_a_senior_member():
    SeniorMemberFactory(user_id="1", country="France", company="Acme")
    receive(user_id="1", field="Country", value="Germany", old_value="France")
    receive(user_id="1", field="Company", value="Globex", old_value="Acme")

    member_events_process(user_id="1")

    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("Germany", "Globex")
    assert set(RawEvent.objects.values_list("outcome", flat=True)) == {"attributes_updated"}


def test_attribute_change_after_removal_is_harmless():
    SeniorMemberFactory(user_id="1")
    receive(user_id="1", field="Country", value="Germany")  # stored while senior
    receive(user_id="1", value="Engineer", old_value="VP of Sales")  # then demoted, same batch

    member_events_process(user_id="1")

    assert not SeniorMember.objects.exists()
    assert list(RawEvent.objects.order_by("id").values_list("outcome", flat=True)) == [
        "attributes_updated",
        "removed",
    ]


def test_an_accepted_event_is_pending_until_its_member_is_processed():
    first = receive(user_id="1", value="CEO")
    receive(user_id="1", value="CEO")  # a duplicate: nothing more is pending
    other = receive(user_id="2", value="CFO")
    receive(user_id="3", field="Nickname", value="Al")  # ignored: never pending

    pending = {p.event_id: p for p in PendingEvent.objects.all()}
    assert set(pending) == {first.event_id, other.event_id}
    assert (pending[first.event_id].user_id, pending[first.event_id].received_at) == (
        "1",
        RawEvent.objects.get(pk=first.event_id).received_at,
    )

    member_events_process(user_id="1")

    assert list(PendingEvent.objects.values_list("event_id", flat=True)) == [other.event_id]
    assert_pending_is_unprocessed()


def test_deleting_an_unprocessed_event_takes_it_off_the_pending_list():
    waiting = receive(user_id="1", value="CEO")

    RawEvent.objects.filter(pk=waiting.event_id).delete()  # what the admin's delete does

    assert not PendingEvent.objects.exists()


def test_processing_twice_applies_once():
    receive(user_id="1", value="CEO")

    assert member_events_process(user_id="1") == 1
    assert member_events_process(user_id="1") == 0
    assert Detection.objects.count() == 1


# --- registration and enrichment through the fake inSided API -----------------------------------


def register(user_id):
    incoming = IncomingEvent(
        event_type=RawEvent.EventType.USER_REGISTERED, user_id=str(user_id), payload={"userId": user_id}
    )
    return event_receive(incoming=incoming)


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


def test_registration_with_community_down_is_recorded_and_processing_goes_on(insided):
    insided.failures = [500] * 10
    register(14)

    member_events_process(user_id="14")

    assert RawEvent.objects.get().outcome == "profile_unavailable"
    assert insided.user_requests == 3  # bounded retries


def test_enrichment_fills_missing_fields_and_the_unsent_detection(insided):
    insided.add_user(20, job_title="VP Sales", country="Canada", company="Initech")
    receive(user_id="20", value="VP Sales")
    member_events_process(user_id="20")

    assert services.member_enrich(user_id="20") is True

    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.enrichment_error) == ("Canada", "Initech", "")
    assert member.enriched_at is not None
    assert Detection.objects.get().company == "Initech"


def test_enrichment_does_not_overwrite_fields_from_the_webhook(insided):
    insided.add_user(21, job_title="VP Sales", country="Canada", company="Initech")
    receive(user_id="21", value="VP Sales", company="Acme")
    member_events_process(user_id="21")

    services.member_enrich(user_id="21")

    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("Canada", "Acme")


def test_enrichment_token_is_cached_until_near_expiry(insided):
    insided.add_user(22, job_title="CEO")
    insided.add_user(23, job_title="CEO")
    SeniorMemberFactory(user_id="22")
    SeniorMemberFactory(user_id="23")

    services.member_enrich(user_id="22")
    services.member_enrich(user_id="23")

    assert insided.token_requests == 1
    assert insided.user_requests == 2


def test_enrichment_reauthenticates_once_when_the_token_is_refused(insided):
    insided.add_user(24, job_title="CEO", country="Japan")
    SeniorMemberFactory(user_id="24", country="")
    services.member_enrich(user_id="24")
    insided.revoke_tokens()
    SeniorMember.objects.filter(pk="24").update(country="")

    assert services.member_enrich(user_id="24") is True
    assert insided.token_requests == 2
    assert SeniorMember.objects.get().country == "Japan"


def test_enrichment_retries_transient_errors(insided):
    insided.add_user(25, job_title="CEO", country="Chile")
    SeniorMemberFactory(user_id="25", country="")
    insided.failures = [503, 429]

    assert services.member_enrich(user_id="25") is True
    assert SeniorMember.objects.get().country == "Chile"


def test_enrichment_failure_leaves_member_recorded_with_the_error(insided):
    SeniorMemberFactory(user_id="26", country="")  # unknown to the community: 404

    assert services.member_enrich(user_id="26") is False

    member = SeniorMember.objects.get()
    assert member.country == ""
    assert "404" in member.enrichment_error


def test_new_member_without_attributes_is_queued_for_enrichment(insided, django_capture_on_commit_callbacks):
    receive(user_id="27", value="CEO")

    with django_capture_on_commit_callbacks() as callbacks:
        member_events_process(user_id="27")

    assert len(callbacks) == 1  # member_enrich.delay, run by the worker in production


# --- housekeeping and the outbox sweep ------------------------------------------------------------


def test_purge_deletes_processed_events_past_retention_in_batches():
    now = timezone.now()
    old = [RawEventFactory(received_at=now - timedelta(days=15), processed_at=now) for _ in range(5)]
    stuck = RawEventFactory(received_at=now - timedelta(days=20), processed_at=None)
    recent = RawEventFactory(received_at=now - timedelta(days=13), processed_at=now)

    deleted = services.events_purge_old(retention_days=14, batch_size=2)

    assert deleted == len(old)
    assert set(RawEvent.objects.values_list("id", flat=True)) == {stuck.id, recent.id}
    assert_pending_is_unprocessed()  # the unprocessed event is kept, and still pending


def test_purge_keeps_detections_of_purged_events():
    receive(user_id="1", value="CEO")
    member_events_process(user_id="1")
    RawEvent.objects.update(received_at=timezone.now() - timedelta(days=30))

    services.events_purge_old()

    assert not RawEvent.objects.exists()
    assert Detection.objects.get().event_id is None


def test_stale_members_are_found_oldest_first():
    from detections.selectors import members_with_stale_events

    now = timezone.now()
    RawEventFactory(user_id="late", received_at=now - timedelta(minutes=5))
    RawEventFactory(user_id="early", received_at=now - timedelta(minutes=50))
    RawEventFactory(user_id="fresh", received_at=now)
    RawEventFactory(user_id="done", received_at=now - timedelta(hours=1), processed_at=now)

    assert members_with_stale_events(received_before=now - timedelta(minutes=1), limit=10) == ["early", "late"]


def test_intake_asks_for_a_wake_up_only_when_one_is_due_and_it_goes_out_off_the_request_thread(
    monkeypatch, purge_queue
):
    published = []

    def capture(**kwargs):
        published.append(threading.current_thread().name)

    before_task_publish.connect(capture)
    try:
        monkeypatch.setattr(services, "_next_wake_at", time.monotonic() + 60)  # one is on its way
        services.events_processing_wake_soon()
        assert services._wake_in_background.wait_idle(timeout=10)
        assert published == []

        monkeypatch.setattr(services, "_next_wake_at", 0.0)
        services.events_processing_wake_soon()
        services.events_processing_wake_soon()  # the same interval: one publish
        assert services._wake_in_background.wait_idle(timeout=10)
    finally:
        before_task_publish.disconnect(capture)

    assert published == ["processing-wake"]
    assert services._next_wake_at > time.monotonic()  # the next ones wait for the interval
