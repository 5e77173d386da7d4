"""A real Celery worker builds and sends the weekly digest to the fake Control Room."""

from datetime import timedelta

import pytest
from django.utils import timezone

from captpathfinder.celery import app as celery_app
from digests.models import Digest, DigestDelivery
from tests.conftest import wait_until
from tests.factories import SeniorDetectionFactory
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
