"""Operators' corrections: applied through the state machine, held while the title stays, labelled."""

from datetime import timedelta

import pytest
from django.urls import reverse

from access.models import AuditEntry
from classification.models import ConfirmedLabel
from detections.models import Detection, MemberPin, SeniorMember
from detections.services.corrections import CorrectionError, member_correct, member_mark_senior
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


# --- The function ----------------------------------------------------------------------------------


def test_a_correction_of_the_function_alone_keeps_the_level_and_records_no_detection(admin_user):
    became("7", "VP of Sales")

    outcome = member_correct(user_id="7", function="marketing", note="runs demand gen", user=admin_user, via="admin")

    member, pin = SeniorMember.objects.get(pk="7"), MemberPin.objects.get(pk="7")
    assert outcome == "updated"
    assert (member.level, member.function, member.rules_version) == ("vp", "marketing", "correction")
    assert (pin.level, pin.function) == ("vp", "marketing")
    assert Detection.objects.filter(user_id="7").count() == 1
    label = ConfirmedLabel.objects.get(title="VP of Sales")
    assert (label.level, label.function) == ("vp", "marketing")
    entry = AuditEntry.objects.get(action="member.correct")
    assert (entry.details["previous_function"], entry.details["function"]) == ("sales", "marketing")


def test_the_corrected_function_holds_while_the_title_stays_and_the_rules_read_it_after():
    became("7", "VP of Sales")
    member_correct(user_id="7", function="customer", via="command")

    receive(user_id="7", value="VP of Sales", old_value="VP of Sales")  # the same title saved again
    events_drain()
    assert SeniorMember.objects.get(pk="7").function == "customer"

    receive(user_id="7", value="VP of Engineering", old_value="VP of Sales")
    events_drain()
    member = SeniorMember.objects.get(pk="7")
    assert (member.level, member.function) == ("vp", "engineering") and not MemberPin.objects.filter(pk="7").exists()


def test_a_correction_of_the_level_alone_leaves_the_function_to_the_rules_or_to_an_earlier_correction():
    became("8", "Vice President, Office of the CEO")
    rules_function = SeniorMember.objects.get(pk="8").function

    member_correct(user_id="8", level="csuite", via="command")
    assert SeniorMember.objects.get(pk="8").function == rules_function
    assert MemberPin.objects.get(pk="8").function == ""  # blank: the rules read it
    assert ConfirmedLabel.objects.get(title="Vice President, Office of the CEO").function == ""

    member_correct(user_id="8", function="general", via="command")
    member_correct(user_id="8", level="vp", via="command")
    member = SeniorMember.objects.get(pk="8")
    assert (member.level, member.function) == ("vp", "general")


def test_an_unknown_function_is_refused():
    became("7", "VP of Sales")

    with pytest.raises(CorrectionError, match="unknown function 'sorcery'") as refused:
        member_correct(user_id="7", function="sorcery", via="command")

    assert refused.value.field == "function"
    assert SeniorMember.objects.get(pk="7").function == "sales" and not MemberPin.objects.exists()


def test_the_correction_page_offers_the_rules_function_and_applies_a_chosen_one(admin_client):
    became("9", "VP of Sales")
    url = reverse("admin:detections_member_correct", args=["9"])

    page = admin_client.get(url).content.decode()
    done = admin_client.post(url, {"level": "csuite", "function": "finance"}, follow=True).content.decode()

    assert '<option value="" selected>As the rules read it from the title</option>' in page
    assert "corrected to C-suite, Finance (promoted)" in done
    member = SeniorMember.objects.get(pk="9")
    assert (member.level, member.function) == ("csuite", "finance")
    assert Detection.objects.filter(user_id="9").latest("id").function == "finance"
    assert '<option value="finance" selected>Finance</option>' in admin_client.get(url).content.decode()


def test_a_level_correction_in_the_admin_leaves_the_function_to_the_rules(admin_client):
    became("10", "VP of Sales")
    url = reverse("admin:detections_member_correct", args=["10"])

    admin_client.post(url, {"level": "csuite", "function": ""})

    assert MemberPin.objects.get(pk="10").function == ""
    assert ConfirmedLabel.objects.get(title="VP of Sales").function == ""
    assert SeniorMember.objects.get(pk="10").function == "sales"  # the rules' reading of the title


def test_choosing_the_rules_again_gives_a_pinned_function_back_to_them(admin_client):
    became("11", "VP of Sales")
    url = reverse("admin:detections_member_correct", args=["11"])
    admin_client.post(url, {"level": "vp", "function": "marketing"})
    assert SeniorMember.objects.get(pk="11").function == "marketing"

    admin_client.post(url, {"level": "vp", "function": ""})

    assert MemberPin.objects.get(pk="11").function == ""
    assert SeniorMember.objects.get(pk="11").function == "sales"


# --- Someone the rules missed --------------------------------------------------------------------


def test_an_operator_marks_someone_the_rules_missed_with_the_title_they_give(admin_user):
    receive(user_id="40", value="Head of Sales")
    receive(user_id="40", field="Company", value="Initech")
    events_drain()
    assert not SeniorMember.objects.exists()

    member = member_mark_senior(
        user_id="40", level="vp", function="sales", title=" Head of Sales ", username="Ines",
        note="runs sales for the Americas", user=admin_user, via="admin",
    )  # fmt: skip

    assert (member.title, member.level, member.function, member.username) == ("Head of Sales", "vp", "sales", "Ines")
    stored = SeniorMember.objects.get(pk="40")
    assert (stored.rules_version, stored.company) == ("correction", "Initech")  # what their webhooks sent
    detection = Detection.objects.get(user_id="40")
    snapshot = (detection.kind, detection.level, detection.function, detection.company)
    assert snapshot == ("first", "vp", "sales", "Initech")
    pin = MemberPin.objects.get(pk="40")
    assert (pin.title, pin.level, pin.function) == ("Head of Sales", "vp", "sales")
    label = ConfirmedLabel.objects.get(title="Head of Sales")
    assert (label.level, label.function) == ("vp", "sales")
    entry = AuditEntry.objects.get(action="member.mark_senior")
    assert (entry.username, entry.target, entry.details["function"]) == ("admin", "member 40 (Head of Sales)", "sales")


def test_a_marked_member_stays_while_the_title_stays_and_the_rules_decide_after():
    member_mark_senior(user_id="41", level="csuite", function="sales", title="Head of Sales", via="command")

    receive(user_id="41", value="Head of Sales", old_value="Head of Sales")
    events_drain()
    assert SeniorMember.objects.get(pk="41").level == "csuite"

    receive(user_id="41", value="Sales Manager", old_value="Head of Sales")
    events_drain()
    assert not SeniorMember.objects.filter(pk="41").exists() and not MemberPin.objects.exists()


def test_without_the_community_api_the_title_is_required():
    with pytest.raises(CorrectionError, match="give the title: the community API is not configured") as refused:
        member_mark_senior(user_id="42", level="vp", function="sales", via="command")

    assert refused.value.field == "title" and not SeniorMember.objects.exists() and not MemberPin.objects.exists()


def test_marking_refuses_a_current_member_a_bad_level_function_or_user_id():
    became("43", "VP of Sales")

    with pytest.raises(CorrectionError, match="a senior executive already: correct them instead"):
        member_mark_senior(user_id="43", level="vp", function="sales", title="VP of Sales", via="command")
    with pytest.raises(CorrectionError, match="csuite or vp"):
        member_mark_senior(user_id="44", level="none", function="sales", title="Head of Sales", via="command")
    with pytest.raises(CorrectionError, match="unknown function 'sorcery'"):
        member_mark_senior(user_id="44", level="vp", function="sorcery", title="Head of Sales", via="command")
    with pytest.raises(CorrectionError, match="user id '../x'") as refused:
        member_mark_senior(user_id="../x", level="vp", function="sales", title="Head of Sales", via="command")
    assert refused.value.field == "user_id" and SeniorMember.objects.count() == 1


def test_the_community_profile_fills_the_marked_member(insided, admin_user):
    insided.add_user(45, username="Kenji Sato", job_title="Head of Sales", country="Japan", company="Acme KK")

    member = member_mark_senior(
        user_id="45", level="vp", function="sales", title="ignored: the profile has one", user=admin_user, via="admin"
    )

    stored = SeniorMember.objects.get(pk="45")
    assert (stored.title, stored.username, stored.company, stored.country) == (
        "Head of Sales",
        "Kenji Sato",
        "Acme KK",
        "Japan",
    )
    assert (stored.email_domain, stored.enriched_at is not None, stored.enrichment_error) == ("example.com", True, "")
    assert stored.joined_at is not None and member.function == "sales"
    detection = Detection.objects.get(user_id="45")
    assert (detection.username, detection.company, detection.country) == ("Kenji Sato", "Acme KK", "Japan")
    assert MemberPin.objects.get(pk="45").title == "Head of Sales"
    assert AuditEntry.objects.get(action="member.mark_senior").details["from_community"] is True


def test_a_user_the_community_does_not_know_is_refused(insided):
    with pytest.raises(CorrectionError, match="user 46 is not in the community") as refused:
        member_mark_senior(user_id="46", level="vp", function="sales", title="Head of Sales", via="command")

    assert refused.value.field == "user_id"
    assert not SeniorMember.objects.exists() and not MemberPin.objects.exists() and not ConfirmedLabel.objects.exists()


def test_a_profile_without_a_title_needs_the_operators(insided):
    insided.add_user(47, username="Ola", country="Norway")

    with pytest.raises(CorrectionError, match="their community profile has none"):
        member_mark_senior(user_id="47", level="vp", function="sales", via="command")
    member = member_mark_senior(user_id="47", level="vp", function="sales", title="Salgsleder", via="command")

    assert (member.title, member.username, member.country) == ("Salgsleder", "Ola", "Norway")


def test_the_senior_members_list_links_to_the_page_that_adds_a_missed_one(admin_client):
    changelist = admin_client.get(reverse("admin:detections_seniormember_changelist")).content.decode()
    url = reverse("admin:detections_member_mark_senior")
    page = admin_client.get(url, {"user_id": "48"}).content.decode()
    done = admin_client.post(
        url, {"user_id": "48", "level": "csuite", "function": "finance", "title": "Head of Finance"}, follow=True
    ).content.decode()

    assert "Add a senior executive the rules missed" in changelist and url in changelist
    assert 'value="48"' in page and "The community API is not configured" in page
    assert "48 is now a senior executive: C-suite, Finance" in done
    member = SeniorMember.objects.get(pk="48")
    assert (member.level, member.function, member.title) == ("csuite", "finance", "Head of Finance")


def test_the_page_shows_what_is_wrong_as_form_errors(admin_client, insided):
    url = reverse("admin:detections_member_mark_senior")

    unknown = admin_client.post(url, {"user_id": "49", "level": "vp", "function": "sales"})
    bad_id = admin_client.post(url, {"user_id": "a/b", "level": "vp", "function": "sales"})
    no_function = admin_client.post(url, {"user_id": "49", "level": "vp"})

    assert unknown.status_code == bad_id.status_code == no_function.status_code == 200
    assert "user 49 is not in the community" in unknown.content.decode()
    assert "Must be letters, digits" in bad_id.content.decode()
    assert "This field is required" in no_function.content.decode()
    assert not SeniorMember.objects.exists()


def test_a_viewer_cannot_mark_a_member_nor_sees_the_link(client, django_user_model):
    from django.contrib.auth.models import Group

    viewer = django_user_model.objects.create_user("vera", password="x", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewers"))
    client.force_login(viewer)

    changelist = client.get(reverse("admin:detections_seniormember_changelist")).content.decode()
    response = client.post(
        reverse("admin:detections_member_mark_senior"),
        {"user_id": "50", "level": "vp", "function": "sales", "title": "Head of Sales"},
    )

    assert "Add a senior executive the rules missed" not in changelist
    assert response.status_code == 403 and not SeniorMember.objects.exists()


def test_reclassification_fills_the_function_a_correction_left_to_the_rules():
    from detections.services.reclassification import members_reclassify

    became("8", "VP of Sales")
    member_correct(user_id="8", level="csuite", via="command")
    SeniorMember.objects.filter(pk="8").update(function="other")  # corrected before members had a function
    detections = Detection.objects.count()

    dry, _ = members_reclassify(dry_run=True)
    changes, _ = members_reclassify(dry_run=False)

    assert [(c.user_id, c.old_level, c.new_level, c.old_function, c.new_function) for c in dry] == [
        ("8", "csuite", "csuite", "other", "sales")
    ]
    assert changes == dry
    member = SeniorMember.objects.get(pk="8")
    assert (member.level, member.function, member.rules_version) == ("csuite", "sales", "correction")
    assert Detection.objects.count() == detections and MemberPin.objects.get(pk="8").function == ""
