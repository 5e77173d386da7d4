"""manage.py build_weekly_digest and manage.py send_digests."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from digests.models import DigestDelivery
from tests.factories import SeniorDetectionFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_build_then_send_through_the_control_room(control_room):
    for _ in range(11):
        SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    built = run("build_weekly_digest", "--extra")
    sent = run("send_digests")

    assert built.startswith("Extra digest #") and "11 detections (11 members) in 2 chunks, being sent" in built
    assert "deployed 4 (bot runs queued), sent 0" in sent
    assert "sent 4, failed 0 (will retry), dead 0, runs not finished 0" in run("send_digests", "--wait", "10")
    assert len(control_room.deployments) == 4


def test_send_now_and_resend_dead(control_room):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    run("build_weekly_digest", "--extra")
    DigestDelivery.objects.filter(channel="email").update(status="dead")
    DigestDelivery.objects.filter(channel="teams").update(
        status="retrying", next_attempt_at=timezone.now() + timedelta(hours=2)
    )

    assert "sent 0" in run("send_digests")
    output = run("send_digests", "--now", "--resend-dead")

    assert "1 dead deliveries queued again" in output and "deployed 2" in output


def test_the_weekly_build_by_hand_is_the_latest_fridays_and_runs_once():
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    first = run("build_weekly_digest")
    SeniorDetectionFactory(detected_at=timezone.now())
    again = run("build_weekly_digest")

    assert first.startswith("Weekly digest for ") and "1 detection (1 member) in 1 chunk, being sent" in first
    assert "was already built" in again and "1 detection waiting, going out with the weekly digest on Fri" in again
