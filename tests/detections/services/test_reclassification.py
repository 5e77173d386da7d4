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
    SeniorMemberFactory(user_id="1", title="Chief Executive Officer", level="vp", last_seen_at=seen)
    SeniorMemberFactory(user_id="2", title="Assistant to the CEO", level="csuite")
    SeniorMemberFactory(user_id="3", title="VP of Sales", level="vp", rules_version="old", last_seen_at=seen)

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
