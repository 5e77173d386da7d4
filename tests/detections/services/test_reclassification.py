"""Stored members moved under the active ruleset, through the member state machine."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classification.services import ruleset_active
from detections.models import Detection, SeniorMember
from detections.services.reclassification import members_reclassify
from tests.factories import SeniorMemberFactory

pytestmark = pytest.mark.django_db


def test_level_changes_go_through_the_state_machine_and_keep_last_seen():
    seen = timezone.now() - timedelta(days=40)
    SeniorMemberFactory(user_id="1", title="Chief Executive Officer", level="vp", function="general", last_seen_at=seen)
    SeniorMemberFactory(user_id="2", title="Assistant to the CEO", level="csuite")
    SeniorMemberFactory(
        user_id="3", title="VP of Sales", level="vp", function="sales", rules_version="old", last_seen_at=seen
    )

    changes, read = members_reclassify(dry_run=False)

    assert read == 3
    assert [(c.user_id, c.old_level, c.new_level) for c in changes] == [("1", "vp", "csuite"), ("2", "csuite", None)]
    promoted, confirmed = SeniorMember.objects.get(pk="1"), SeniorMember.objects.get(pk="3")
    assert (promoted.level, promoted.last_seen_at) == ("csuite", seen)
    assert (confirmed.rules_version, confirmed.last_seen_at) == (ruleset_active().version, seen)
    assert not SeniorMember.objects.filter(pk="2").exists()
    assert list(Detection.objects.values_list("user_id", "kind")) == [("1", "promotion")]


def test_a_member_whose_title_changed_meanwhile_is_left_alone(monkeypatch):
    from detections.services import reclassification

    SeniorMemberFactory(user_id="1", title="Chief Executive Officer", level="vp")
    original = reclassification._members_apply_own_titles

    def title_changes_first(titles):  # a webhook applied between the scan and the apply
        SeniorMember.objects.filter(pk="1").update(title="Chief Operating Officer")
        original(titles)

    monkeypatch.setattr(reclassification, "_members_apply_own_titles", title_changes_first)
    members_reclassify(dry_run=False)

    member = SeniorMember.objects.get()
    assert (member.title, member.level) == ("Chief Operating Officer", "vp")
    assert not Detection.objects.exists()


def test_reclassification_fills_the_function_without_recording_a_detection():
    version = ruleset_active().version
    seen = timezone.now() - timedelta(days=40)
    # Stored before members had a function: the column's default, under the current rules.
    SeniorMemberFactory(user_id="1", title="VP of Engineering", level="vp", rules_version=version, last_seen_at=seen)
    SeniorMemberFactory(user_id="2", title="Chief Financial Officer", level="csuite", function="finance")

    dry, read = members_reclassify(dry_run=True)

    assert read == 2
    assert [(c.user_id, c.old_function, c.new_function, c.level_changed) for c in dry] == [
        ("1", "other", "engineering", False)
    ]
    assert SeniorMember.objects.get(pk="1").function == "other"  # a dry run writes nothing

    changes, _ = members_reclassify(dry_run=False)

    assert changes == dry
    member = SeniorMember.objects.get(pk="1")
    assert (member.level, member.function, member.last_seen_at) == ("vp", "engineering", seen)
    assert SeniorMember.objects.get(pk="2").rules_version == version
    assert not Detection.objects.exists()


def test_a_promotion_by_reclassification_carries_the_function():
    SeniorMemberFactory(user_id="1", title="Chief Financial Officer", level="vp", function="other")

    changes, _ = members_reclassify(dry_run=False)

    change = changes[0]
    assert (change.old_level, change.new_level, change.new_function) == ("vp", "csuite", "finance")
    assert list(Detection.objects.values_list("kind", "function")) == [("promotion", "finance")]
