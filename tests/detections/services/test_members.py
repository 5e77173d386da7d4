"""The member state machine, driven as production drives it: stored events applied in batches."""

import pytest
from django.utils import timezone

from detections.models import Detection, RawEvent, SeniorMember
from detections.services.members import SNAPSHOT_FIELDS, MemberChange, MemberStates, detections_freeze
from detections.services.processing import events_drain
from tests.detections.services.helpers import receive
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


def apply_titles(user_id, *titles):
    previous = ""
    for title in titles:
        receive(user_id=user_id, value=title, old_value=previous)
        previous = title
    events_drain()
    return list(RawEvent.objects.filter(user_id=user_id).order_by("id").values_list("outcome", flat=True))


def test_non_senior_title_stores_nobody():
    assert apply_titles("1", "Software Engineer") == ["not_senior"]
    assert not SeniorMember.objects.exists()
    assert not Detection.objects.exists()


def test_becoming_senior_creates_member_and_first_detection():
    assert apply_titles("1", "  VP of Sales ") == ["created"]

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
    assert list(Detection.objects.order_by("id").values_list("kind", "level", "title")) == [
        ("first", "vp", "VP of Sales"),
        ("promotion", "csuite", "Chief Revenue Officer"),
    ]


def test_the_member_and_its_detection_carry_the_function():
    assert apply_titles("1", "VP of Engineering") == ["created"]

    assert SeniorMember.objects.get().function == "engineering"
    assert Detection.objects.get().function == "engineering"


def test_a_change_of_function_alone_updates_without_detection():
    assert apply_titles("1", "VP of Sales", "VP of Engineering") == ["created", "updated"]

    member = SeniorMember.objects.get()
    assert (member.level, member.function, member.title) == ("vp", "engineering", "VP of Engineering")
    assert list(Detection.objects.values_list("kind", "function")) == [("first", "sales")]


def test_a_promotion_carries_the_new_function():
    assert apply_titles("1", "VP of Sales", "Chief Financial Officer") == ["created", "promoted"]

    assert list(Detection.objects.order_by("id").values_list("kind", "level", "function")) == [
        ("first", "vp", "sales"),
        ("promotion", "csuite", "finance"),
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


def test_removed_and_back_is_a_new_member_with_a_new_first_detection():
    assert apply_titles("1", "VP of Sales", "Engineer", "CEO") == ["created", "removed", "created"]

    assert SeniorMember.objects.get().level == "csuite"
    assert list(Detection.objects.order_by("id").values_list("kind", "level")) == [("first", "vp"), ("first", "csuite")]


def test_change_back_within_retention_ends_with_member_present():
    # VP -> Engineer -> VP: the original's content hash dropped the third event as a duplicate.
    receive(user_id="1", value="VP of Sales", old_value="Sales Manager")
    receive(user_id="1", value="Engineer", old_value="VP of Sales")
    receipt = receive(user_id="1", value="VP of Sales", old_value="Engineer")
    events_drain()

    assert receipt.status == "accepted"
    assert SeniorMember.objects.get().title == "VP of Sales"
    assert list(Detection.objects.values_list("kind", flat=True)) == ["first", "first"]


def test_payload_attributes_are_stored_on_member_and_detection():
    receive(user_id="1", value="CFO", country="France", company="Acme", joined_at="2020-01-02T03:04:05Z")
    events_drain()

    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.joined_at.year) == ("France", "Acme", 2020)
    detection = Detection.objects.get()
    assert (detection.country, detection.company) == ("France", "Acme")


def test_country_and_company_changes_update_a_senior_member():
    SeniorMemberFactory(user_id="1", country="France", company="Acme")
    receive(user_id="1", field="Country", value="Germany", old_value="France")
    receive(user_id="1", field="Company", value=" Globex ", old_value="Acme")

    events_drain()

    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("Germany", "Globex")
    assert set(RawEvent.objects.values_list("outcome", flat=True)) == {"attributes_updated"}


def test_attribute_change_after_removal_is_harmless():
    SeniorMemberFactory(user_id="1")
    receive(user_id="1", field="Country", value="Germany")  # stored while senior
    receive(user_id="1", value="Engineer", old_value="VP of Sales")  # then demoted, same batch

    events_drain()

    assert not SeniorMember.objects.exists()
    assert list(RawEvent.objects.order_by("id").values_list("outcome", flat=True)) == [
        "attributes_updated",
        "removed",
    ]


def test_a_detection_waiting_for_its_digest_follows_its_members_name_company_and_country():
    SeniorMemberFactory(user_id="1", username="Ann", country="", company="")
    waiting = DetectionFactory(user_id="1", username="Ann", country="", company="", title="VP of Sales")
    sent = DetectionFactory(user_id="1", username="Ann", country="", company="")
    detections_freeze(detection_ids=[sent.pk], at=timezone.now())  # an audience took it (digests' build)
    receive(user_id="1", field="Country", value="Germany")
    receive(user_id="1", field="Company", value="Acme")
    receive(user_id="1", value="VP of Sales", username="Ann Smith", old_value="VP, Sales")

    events_drain()

    waiting.refresh_from_db()
    sent.refresh_from_db()
    assert (waiting.username, waiting.country, waiting.company, waiting.title) == (
        "Ann Smith",
        "Germany",
        "Acme",
        "VP of Sales",
    )
    assert (sent.username, sent.country, sent.company) == ("Ann", "", "")  # an audience received it: frozen


def test_a_detection_recorded_in_the_same_batch_takes_what_arrived_after_the_title():
    SeniorMemberFactory(user_id="9")  # so the Country delivery below is stored, not ignored
    receive(user_id="9", value="Engineer")
    receive(user_id="9", value="CEO", old_value="Engineer")
    receive(user_id="9", field="Country", value="Chile")

    events_drain()

    assert Detection.objects.get().country == "Chile"


def test_a_detection_copies_the_snapshot_fields_of_its_member():
    apply_titles("1", "Chief Financial Officer")

    member, detection = SeniorMember.objects.get(), Detection.objects.get()
    assert {name: getattr(detection, name) for name in SNAPSHOT_FIELDS} == {
        name: getattr(member, name) for name in SNAPSHOT_FIELDS
    }


def test_baseline_states_move_members_without_recording_detections():
    states = MemberStates(["1"], now=timezone.now(), record_detections=False)

    assert states.apply(MemberChange(user_id="1", title="CEO")) == "created"
    states.save()

    assert SeniorMember.objects.get().level == "csuite"
    assert not Detection.objects.exists()


def test_attributes_outside_the_members_are_refused():
    SeniorMemberFactory(user_id="1")
    states = MemberStates(["1"], now=timezone.now())

    with pytest.raises(ValueError, match="level"):
        states.apply(MemberChange(user_id="1", attributes={"level": "csuite"}))


@pytest.mark.parametrize("one_batch", [True, False])
def test_a_member_back_starts_from_what_was_sent_and_what_it_takes_reaches_earlier_detections(one_batch):
    SeniorMemberFactory(user_id="5", country="Chile", company="Acme")
    earlier = DetectionFactory(user_id="5", country="Chile", company="Acme")
    receive(user_id="5", value="Engineer")
    receive(user_id="5", field="Country", value="Peru")  # while not senior: remembered, applied to nobody
    if not one_batch:
        events_drain()
    receive(user_id="5", value="CEO", old_value="Engineer")  # senior again: a new member, from what was sent
    events_drain()
    receive(user_id="5", field="Company", value="Globex")

    events_drain()

    earlier.refresh_from_db()
    assert (earlier.country, earlier.company) == ("Chile", "Globex")
    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("Peru", "Globex")
    later = Detection.objects.exclude(pk=earlier.pk).get()
    assert (later.country, later.company) == ("Peru", "Globex")


@pytest.mark.django_db(transaction=True)
def test_a_detection_locked_by_another_writer_is_left_to_it_without_waiting():
    import psycopg

    from tests.fixtures.worker import database_url_for_tests

    SeniorMemberFactory(user_id="6", country="")
    held = DetectionFactory(user_id="6", country="")
    receive(user_id="6", field="Country", value="Peru")
    with psycopg.connect(database_url_for_tests()) as build:  # another unit of work, mid-way
        build.execute("SELECT id FROM detections_detection WHERE id = %s FOR UPDATE", [held.pk])

        events_drain()

    held.refresh_from_db()
    assert held.country == "" and SeniorMember.objects.get().country == "Peru"


@pytest.mark.parametrize("batches", ["one", "two"])
def test_a_company_and_country_sent_before_the_title_of_the_same_save_end_up_on_the_member(batches):
    receive(user_id="7", field="Company", value="Acme")
    receive(user_id="7", field="Country", value="Chile")
    if batches == "two":
        events_drain()  # applied to nobody yet: not senior
    receive(user_id="7", value="VP of Sales")

    events_drain()

    member = SeniorMember.objects.get()
    assert (member.company, member.country) == ("Acme", "Chile")
    assert (Detection.objects.get().company, Detection.objects.get().country) == ("Acme", "Chile")
    assert list(RawEvent.objects.order_by("id").values_list("outcome", flat=True)) == [
        "not_a_member",
        "not_a_member",
        "created",
    ]


def test_a_company_sent_by_someone_who_never_becomes_senior_is_dropped_at_processing():
    receive(user_id="8", field="Company", value="Acme")
    receive(user_id="8", value="Engineer")

    events_drain()

    assert not SeniorMember.objects.exists()
    assert list(RawEvent.objects.order_by("id").values_list("outcome", flat=True)) == ["not_a_member", "not_senior"]


def test_a_detection_is_dated_when_its_change_arrived_not_when_a_worker_applied_it():
    from datetime import timedelta

    receive(user_id="9", value="Chief Financial Officer")
    arrived = timezone.now() - timedelta(minutes=3)  # as if the worker had been away for three minutes
    RawEvent.objects.update(received_at=arrived)

    events_drain()

    member, detection = SeniorMember.objects.get(), Detection.objects.get()
    assert detection.detected_at == member.first_detected_at == member.last_seen_at == arrived


def test_a_stored_member_takes_every_stored_field_and_keeps_when_it_was_first_detected():
    # given a member stored long ago, enriched, with a join date
    long_ago = timezone.now() - timezone.timedelta(days=30)
    SeniorMemberFactory(
        user_id="7",
        title="VP Sales",
        level="vp",
        first_detected_at=long_ago,
        last_seen_at=long_ago,
        joined_at=long_ago,
        enriched_at=long_ago,
        enrichment_error="old",
        email_domain="old.example",
    )
    now = timezone.now()
    # when a promotion and a new enrichment are saved in one unit of work
    states = MemberStates(["7"], now=now)
    states.apply(MemberChange(user_id="7", title="Chief Executive Officer", username="Ann", at=now))
    states.enrichment_record("7", attributes={"email_domain": "new.example"}, error="")
    states.save()
    # then the row has the new values, and its first detection stays
    member = SeniorMember.objects.get()
    assert (member.title, member.level, member.function, member.username) == (
        "Chief Executive Officer",
        "csuite",
        "general",
        "Ann",
    )
    assert (member.first_detected_at, member.last_seen_at, member.joined_at) == (long_ago, now, long_ago)
    assert (member.enriched_at, member.enrichment_error, member.email_domain) == (now, "", "old.example")
