"""The admin pages of the intake models render for staff (the full console is its own issue)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from detections.models import Detection, SeniorMember
from tests.factories import DetectionFactory, RawEventFactory, SeniorMemberFactory, joined_at_stored_raw

pytestmark = pytest.mark.django_db

MODELS = ["trackedfield", "rawevent", "seniormember", "detection"]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_change_form_render(admin_client, model):
    objects = {
        "rawevent": RawEventFactory,
        "seniormember": SeniorMemberFactory,
        "detection": DetectionFactory,
    }
    obj = objects[model]() if model in objects else None

    changelist = admin_client.get(reverse(f"admin:detections_{model}_changelist"), {"q": "VP"})
    assert changelist.status_code == 200
    if obj is not None:
        change = admin_client.get(reverse(f"admin:detections_{model}_change", args=[obj.pk]))
        assert change.status_code == 200


def test_raw_events_are_read_only(admin_client):
    event = RawEventFactory()

    assert admin_client.get(reverse("admin:detections_rawevent_add")).status_code == 403
    response = admin_client.post(reverse("admin:detections_rawevent_change", args=[event.pk]), {"value": "CEO"})
    assert response.status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("admin:detections_seniormember_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_failed_events_of_a_member_are_retried_from_the_admin(admin_client):
    from django.urls import reverse
    from django.utils import timezone

    from detections.models import PendingEvent
    from detections.services.processing import events_set_aside
    from tests.factories import RawEventFactory

    event = RawEventFactory(user_id="42")
    events_set_aside([event], error="DataError: value too long", at=timezone.now())
    page = admin_client.get(reverse("admin:detections_rawevent_changelist") + "?outcome__exact=failed")
    assert "DataError: value too long" in page.content.decode()

    admin_client.post(
        reverse("admin:detections_rawevent_changelist"), {"action": "retry_failed", "_selected_action": [event.pk]}
    )

    event.refresh_from_db()
    assert (event.outcome, event.error, event.processed_at) == ("", "", None)
    assert PendingEvent.objects.filter(event_id=event.pk).exists()


def test_a_row_stored_out_of_range_opens_with_its_date_shown_invalid(admin_client):
    member = SeniorMemberFactory(user_id="3101", username="Year One")
    detection = DetectionFactory(user_id="3101")
    joined_at_stored_raw(SeniorMember, "3101", "0001-01-01T00:00:00Z")
    joined_at_stored_raw(Detection, "3101", "0001-01-01T00:00:00Z")

    changelist = admin_client.get(reverse("admin:detections_seniormember_changelist"))
    pages = [
        admin_client.get(reverse("admin:detections_seniormember_change", args=[member.pk])),
        admin_client.get(reverse("admin:detections_detection_change", args=[detection.pk])),
    ]

    assert changelist.status_code == 200 and "Year One" in changelist.content.decode()
    for page in pages:
        assert page.status_code == 200
        assert "invalid (0001-01-01 00:00 UTC)" in page.content.decode()


def test_the_dates_in_range_are_shown_in_the_consoles_one_format(admin_client):
    member = SeniorMemberFactory(joined_at=datetime(2019, 10, 10, 14, 7, 21, tzinfo=UTC))

    page = admin_client.get(reverse("admin:detections_seniormember_change", args=[member.pk])).content.decode()

    assert "Oct 10, 2019 10:07 EDT" in page  # New York time, captpathfinder/formats
    assert "invalid" not in page


def test_correcting_a_user_id_outside_the_safe_set_is_a_400_naming_the_field(admin_client):
    response = admin_client.get("/admin/detections/seniormember/p1-1067/../x/correct/")

    assert response.status_code == 400
    assert response.content.decode() == "user_id: Must be letters, digits, '-', '_' and '.' (not only dots)."


@pytest.mark.parametrize("model", ["seniormember", "detection"])
def test_the_function_is_a_column_and_a_filter(admin_client, model):
    factory = SeniorMemberFactory if model == "seniormember" else DetectionFactory
    factory(username="Fiona Finance", title="Chief Financial Officer", level="csuite", function="finance")
    factory(username="Sam Sales", title="VP of Sales", function="sales")

    everyone = admin_client.get(reverse(f"admin:detections_{model}_changelist")).content.decode()
    finance = admin_client.get(reverse(f"admin:detections_{model}_changelist"), {"function__exact": "finance"})

    assert "column-function" in everyone and "?function__exact=finance" in everyone  # the column, the filter
    assert finance.status_code == 200
    page = finance.content.decode()
    assert "Fiona Finance" in page and "Sam Sales" not in page


def test_a_members_page_leads_to_their_audit_trail(admin_client):
    member = SeniorMemberFactory(user_id="4242")

    page = admin_client.get(reverse("admin:detections_seniormember_change", args=[member.pk])).content.decode()

    assert f'href="{reverse("admin:access_auditentry_changelist")}?q=4242"' in page


def test_a_member_is_named_with_their_title_cut_short():
    from detections.models import SeniorMember

    long = SeniorMember(username="Priya Raman", title="Senior Vice President, Global Partner Ecosystems and Alliances")
    short = SeniorMember(user_id="42", title="VP of Sales")

    assert str(long) == "Priya Raman (Senior Vice President, Global Partner E…)"  # 40 characters
    assert str(short) == "42 (VP of Sales)"
