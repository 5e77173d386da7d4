"""The admin pages of the intake models render for staff (the full console is its own issue)."""

import pytest
from django.urls import reverse

from tests.factories import DetectionFactory, RawEventFactory, SeniorMemberFactory

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
