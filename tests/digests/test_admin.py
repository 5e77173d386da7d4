"""The digest pages of the admin: lists, preview, and the actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from digests import services
from digests.models import ChannelCircuit, DigestDelivery
from tests.factories import DetectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def digest():
    DetectionFactory(username='<img src=x onerror="alert(1)">', detected_at=timezone.now() - timedelta(hours=1))
    return services.digest_build_weekly()


def test_changelists_and_change_pages_render(admin_client, digest):
    ChannelCircuit.objects.create(channel="email")
    delivery = DigestDelivery.objects.first()
    for url in [
        reverse("admin:digests_digest_changelist"),
        reverse("admin:digests_digest_change", args=[digest.pk]),
        reverse("admin:digests_digestdelivery_changelist") + "?status__exact=pending",
        reverse("admin:digests_digestdelivery_change", args=[delivery.pk]),
        reverse("admin:digests_channelcircuit_changelist"),
    ]:
        assert admin_client.get(url).status_code == 200, url


def test_preview_shows_the_message_as_it_will_be_sent_and_escaped(admin_client, digest):
    email = DigestDelivery.objects.get(channel="email")
    teams = DigestDelivery.objects.get(channel="teams")

    email_page = admin_client.get(reverse("admin:digests_delivery_preview", args=[email.pk])).content.decode()
    teams_page = admin_client.get(reverse("admin:digests_delivery_preview", args=[teams.pk])).content.decode()

    assert "<iframe sandbox" in email_page
    assert '<img src=x onerror="alert(1)">' not in email_page
    assert email.content["subject"] in email_page
    assert "AdaptiveCard" in teams_page and "onerror" in teams_page and "<img" not in teams_page


def test_send_now_and_resend_actions(admin_client, digest, control_room, django_capture_on_commit_callbacks):
    url = reverse("admin:digests_digestdelivery_changelist")
    ids = list(DigestDelivery.objects.values_list("pk", flat=True))
    DigestDelivery.objects.update(status="dead")

    admin_client.post(url, {"action": "resend", "_selected_action": ids})
    assert set(DigestDelivery.objects.values_list("status", flat=True)) == {"pending"}

    DigestDelivery.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    admin_client.post(url, {"action": "send_now", "_selected_action": ids})
    assert DigestDelivery.objects.filter(next_attempt_at__lte=timezone.now()).count() == 2


def test_build_now_button_builds_the_digest_and_queues_sending(admin_client):
    DetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    page = admin_client.get(reverse("admin:digests_digest_changelist")).content.decode()
    response = admin_client.post(reverse("admin:digests_digest_build"))

    assert reverse("admin:digests_digest_build") in page
    assert response.status_code == 302
    assert DigestDelivery.objects.count() == 2


def test_build_now_refuses_get(admin_client):
    DetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    admin_client.get(reverse("admin:digests_digest_build"))

    assert DigestDelivery.objects.count() == 0


def test_preview_of_an_unknown_delivery_is_a_404(admin_client):
    assert admin_client.get(reverse("admin:digests_delivery_preview", args=[999999])).status_code == 404
