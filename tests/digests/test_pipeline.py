"""A real Celery worker builds and sends the weekly digest to the fake Control Room."""

from datetime import timedelta

import pytest
from django.utils import timezone

from captpathfinder.celery import app as celery_app
from detections.models import Detection, SeniorMember
from digests.models import Digest, DigestDelivery
from tests.conftest import profile_update, wait_until
from tests.factories import AudienceFactory, SeniorDetectionFactory
from tests.fixtures.control_room import control_room_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_worker_builds_and_sends_the_weekly_digest(control_room, start_worker):
    for i in range(12):
        SeniorDetectionFactory(username=f"Exec {i}", detected_at=timezone.now() - timedelta(hours=i + 1))
    start_worker(extra_env=control_room_settings(control_room))

    celery_app.send_task("digests.tasks.digest_build_weekly")

    wait_until(
        lambda: DigestDelivery.objects.count() == 4 and not DigestDelivery.objects.exclude(status="sent").exists(),
        timeout=60,
        message="all four deliveries to be sent",
    )
    assert Digest.objects.get().detection_count == 12
    assert sorted(control_room.names()) == sorted(d.automation_name for d in DigestDelivery.objects.all())
    assert all(d.deployment_id for d in DigestDelivery.objects.all())


def test_two_worker_processes_never_send_a_delivery_twice(control_room, start_worker, settings):
    settings.DIGEST_CHUNK_SIZE = 1
    for _ in range(15):
        SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    env = {**control_room_settings(control_room), "DIGEST_CHUNK_SIZE": "1"}
    start_worker(concurrency=2, extra_env=env)
    start_worker(concurrency=2, extra_env=env)

    celery_app.send_task("digests.tasks.digest_build_weekly")
    for _ in range(6):  # several senders racing for the same deliveries
        celery_app.send_task("digests.tasks.deliveries_send_due")

    wait_until(
        lambda: DigestDelivery.objects.filter(status="sent").count() == 30,
        timeout=90,
        message="all thirty deliveries to be sent",
    )
    names = control_room.names()
    assert len(names) == 30 and len(set(names)) == 30


def test_a_worker_killed_after_the_control_room_accepted_its_deploy_leaves_a_run_twice(control_room, start_worker):
    """The gap `make faults` measures (docs/digests.md): a worker SIGKILLed after the Control Room
    accepted a deploy and before the delivery was marked deployed. Its lease expires and another
    worker deploys it again, as nothing documented finds the first run by its automation name;
    the take-over is logged, and every delivery is sent."""
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    control_room.slow_seconds = 5  # the accepted deploy's reply is held while the worker is killed
    control_room.fail_next("accept-then-hang")
    env = {
        **control_room_settings(control_room),
        "AA_TIMEOUT_SECONDS": "10",  # longer than the hold: only the kill loses the reply
        "DIGEST_SEND_LEASE_SECONDS": "2",
        "AA_RUN_FIRST_CHECK_SECONDS": "1",
    }
    worker = start_worker(concurrency=1, extra_env=env)  # one pool process: nothing else in flight

    celery_app.send_task("digests.tasks.digest_build_weekly")
    assert control_room.held.wait(60), "a deploy to be accepted and held"
    worker.kill()
    killed = control_room.names()[0]
    replacement = start_worker(concurrency=1, extra_env=env)

    def all_sent() -> bool:
        celery_app.send_task("digests.tasks.deliveries_send_due")  # beat's every-minute send, faster
        return DigestDelivery.objects.filter(status="sent").count() == 2

    wait_until(all_sent, timeout=60, interval=1, message="both deliveries to be sent")
    names = control_room.names()
    assert names.count(killed) == 2 and len(set(names)) == 2  # the killed one twice, the other once
    log = replacement.log_path.read_text()
    assert f"({killed}) taken over from a sender that stopped mid-send" in log


def test_a_japanese_ceo_and_a_polish_vp_reach_the_audiences_of_their_functions(webhook, control_room, start_worker):
    """Webhooks through intake and a real worker, classified in their own languages, then Friday's
    build: each lands in the digest of the audience that hears about their function, labelled so."""
    AudienceFactory(name="Management", functions=["general"])
    AudienceFactory(name="Sales leadership", functions=["sales"])
    AudienceFactory(name="Finance office", functions=["finance"])
    start_worker(extra_env=control_room_settings(control_room))

    for user_id, name, title in [
        ("3001", "Sato Hiroshi", "株式会社ABC 代表取締役社長"),
        ("3002", "Anna Kowalska", "Wiceprezes Zarządu ds. Sprzedaży"),
    ]:
        assert webhook.post(profile_update(user_id=user_id, username=name, value=title)).json()["status"] == "accepted"
    wait_until(lambda: Detection.objects.count() == 2, message="both detections")
    assert dict(Detection.objects.values_list("user_id", "function")) == {"3001": "general", "3002": "sales"}
    assert dict(SeniorMember.objects.values_list("user_id", "level")) == {"3001": "csuite", "3002": "vp"}

    celery_app.send_task("digests.tasks.digest_build_weekly")

    wait_until(
        lambda: DigestDelivery.objects.exists() and not DigestDelivery.objects.exclude(status="sent").exists(),
        timeout=60,
        message="every delivery to be sent",
    )
    management = DigestDelivery.objects.get(digest__audience__name="Management").content
    sales = DigestDelivery.objects.get(digest__audience__name="Sales leadership").content
    assert "Sato Hiroshi: 株式会社ABC 代表取締役社長 (C-suite) · General management" in management["text"]
    assert "Anna Kowalska" not in management["text"]
    assert "Anna Kowalska: Wiceprezes Zarządu ds. Sprzedaży (VP) · Sales" in sales["text"]
    assert "Sato Hiroshi" not in sales["text"]
    assert not DigestDelivery.objects.filter(digest__audience__name="Finance office").exists()
    sent = {
        d.automation_name
        for d in DigestDelivery.objects.filter(digest__audience__name__in=["Management", "Sales leadership"])
    }
    assert sent <= set(control_room.names())
