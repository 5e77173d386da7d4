"""manage.py build_weekly_digest and manage.py send_digests."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from digests.models import DigestDelivery
from tests.factories import DetectionFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_build_then_send_through_the_control_room(control_room):
    for _ in range(11):
        DetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    built = run("build_weekly_digest")
    sent = run("send_digests")

    assert "11 detections in 2 chunks, 4 deliveries" in built
    assert "deployed 4 (bot runs queued), sent 0" in sent
    assert "sent 4, failed 0 (will retry), dead 0, runs not finished 0" in run("send_digests", "--wait", "10")
    assert len(control_room.deployments) == 4


def test_send_now_and_resend_dead(control_room):
    DetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    run("build_weekly_digest")
    DigestDelivery.objects.filter(channel="email").update(status="dead")
    DigestDelivery.objects.filter(channel="teams").update(
        status="retrying", next_attempt_at=timezone.now() + timedelta(hours=2)
    )

    assert "sent 0" in run("send_digests")
    output = run("send_digests", "--now", "--resend-dead")

    assert "1 dead deliveries queued again" in output and "deployed 2" in output
