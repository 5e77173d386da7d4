"""Operators' corrections: applied through the state machine, held while the title stays, labelled."""

from datetime import timedelta

import pytest
from django.urls import reverse

from access.models import AuditEntry
from classification.models import ConfirmedLabel
from detections.models import Detection, MemberPin, SeniorMember
from detections.services.corrections import CorrectionError, member_correct
from detections.services.processing import events_drain
from digests import services as digest_services
from digests.models import Receipt
from tests.detections.services.helpers import receive

pytestmark = pytest.mark.django_db


def became(user_id, title):
    receive(user_id=user_id, value=title)
    events_drain()


def test_a_correction_removes_a_pending_detection_from_the_digest_and_pins_the_member(admin_user):
    became("7", "VP of Sales")  # a customer's VP the rules count, wrongly for this community
    detection = Detection.objects.get(user_id="7")

    outcome = member_correct(user_id="7", level="none", note="a partner, not a customer", user=admin_user, via="admin")
    # Intake stamps the event by the database's clock: the build is timed from the detection.
    build = digest_services.digest_build_weekly(now=detection.detected_at + timedelta(minutes=1))

    assert outcome == "removed" and not SeniorMember.objects.filter(pk="7").exists()
    assert build.digest is None and build.left_out == {detection.pk: "not_senior"}
    assert Receipt.objects.get(detection=detection).left_out == "not_senior"
    assert MemberPin.objects.get(pk="7").level == "none"
    assert ConfirmedLabel.objects.get(title="VP of Sales").level == "none"
    entry = AuditEntry.objects.get(action="member.correct")
    assert (entry.username, entry.details["previous_level"], entry.details["level"]) == ("admin", "vp", "none")


def test_the_pin_holds_while_the_title_stays_and_goes_when_it_changes():
    became("7", "VP of Sales")
    member_correct(user_id="7", level="none", via="command")

    receive(user_id="7", value="VP of Sales", old_value="VP of Sales")  # the same title saved again
    events_drain()
    assert not SeniorMember.objects.filter(pk="7").exists()

    receive(user_id="7", value="SVP of Sales", old_value="VP of Sales")
    events_drain()
    assert SeniorMember.objects.get(pk="7").level == "vp" and not MemberPin.objects.filter(pk="7").exists()


def test_a_vp_corrected_to_c_suite_is_a_promotion_for_the_next_digest():
    became("8", "Vice President, Office of the CEO")

    outcome = member_correct(user_id="8", level="csuite", via="command")

    member = SeniorMember.objects.get(pk="8")
    assert outcome == "promoted" and (member.level, member.rules_version) == ("csuite", "correction")
    assert list(Detection.objects.filter(user_id="8").values_list("kind", flat=True).order_by("id")) == [
        "first",
        "promotion",
    ]


def test_only_a_current_senior_member_can_be_corrected():
    with pytest.raises(CorrectionError, match="not a current senior executive"):
        member_correct(user_id="404", level="vp", via="command")
    with pytest.raises(CorrectionError, match="unknown level 'boss'"):
        member_correct(user_id="404", level="boss", via="command")


def test_the_correction_page_applies_it_and_a_digest_link_leads_there(admin_client):
    became("9", "VP of Sales")
    detection = Detection.objects.get(user_id="9")

    link = admin_client.get(reverse("admin:detections_detection_correct", args=[detection.pk]))
    page = admin_client.get(link["Location"]).content.decode()
    done = admin_client.post(link["Location"], {"level": "none", "note": "partner"}, follow=True).content.decode()

    assert link["Location"] == reverse("admin:detections_member_correct", args=["9"])
    assert "Apply the correction" in page and "VP of Sales" in page
    assert "corrected to Not a senior executive (removed)" in done
    assert not SeniorMember.objects.filter(pk="9").exists()


def test_a_viewer_cannot_correct(client, django_user_model):
    from django.contrib.auth.models import Group

    viewer = django_user_model.objects.create_user("vera", password="x", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewers"))
    client.force_login(viewer)
    became("9", "VP of Sales")

    response = client.post(reverse("admin:detections_member_correct", args=["9"]), {"level": "none"})

    assert response.status_code == 403 and SeniorMember.objects.filter(pk="9").exists()


def test_reclassification_leaves_a_corrected_member_to_the_correction():
    from detections.services.reclassification import members_reclassify

    became("8", "Vice President, Office of the CEO")
    member_correct(user_id="8", level="csuite", via="command")

    changes, _ = members_reclassify(dry_run=False)

    assert changes == [] and SeniorMember.objects.get(pk="8").level == "csuite"
