"""The community write-back as operators watch it: the admin list and its retry, /metrics, /api/stats."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.urls import reverse

from access.models import AuditEntry
from tests.factories import CommunityGrantFactory, FailedBadgeGrantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(db):
    CommunityGrantFactory(user_id="80")
    return FailedBadgeGrantFactory(user_id="81")


def staff_in(django_user_model, group: str):
    user = django_user_model.objects.create_user(group.lower(), password="pw-For-Tests-1", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_the_list_shows_the_change_its_status_and_why_it_failed(client, django_user_model, failed):
    client.force_login(staff_in(django_user_model, "Viewers"))

    page = client.get(reverse("admin:detections_communitygrant_changelist"), {"status__exact": "failed"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "give badge 99" in html and "the community has no badge" in html and "senior (vp)" in html
    assert "Retry the selected failed changes now" not in html  # a viewer may not retry


def test_an_operator_retries_a_failed_change_and_it_is_audited(client, django_user_model, failed):
    client.force_login(staff_in(django_user_model, "Operators"))

    response = client.post(
        reverse("admin:detections_communitygrant_changelist"),
        {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk]},
        follow=True,
    )

    assert "1 failed changes queued again." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert AuditEntry.objects.get(action="community.retry").details == {"grant_ids": [failed.pk]}


def test_a_viewers_retry_is_refused(client, django_user_model, failed):
    client.force_login(staff_in(django_user_model, "Viewers"))

    client.post(
        reverse("admin:detections_communitygrant_changelist"), {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk]}
    )

    failed.refresh_from_db()
    assert failed.status == "failed"


def test_the_changes_cannot_be_typed_in(admin_client, failed):
    assert admin_client.get(reverse("admin:detections_communitygrant_add")).status_code == 403


def test_metrics_and_stats_count_the_changes_by_status(admin_client, failed, settings):
    metrics = admin_client.get("/metrics").content.decode()
    assert 'captpathfinder_community_writeback_changes{status="failed"} 1.0' in metrics
    assert 'captpathfinder_community_writeback_changes{status="written"} 1.0' in metrics

    stats = admin_client.get("/api/stats").json()["community_writeback"]
    assert stats == {"enabled": False, "pending": 0, "failed": 1, "written": 1, "oldest_due_age_seconds": None}
