"""Outages: the webhook while the database is down, the worker while the broker is."""

import json
import time

import pytest

from tests.conftest import wait_until
from tests.fixtures.outages import run_with_database_unreachable

SCRIPT = """
import base64, json, django
django.setup()
from django.conf import settings
from django.test import Client
auth = base64.b64encode(f"{settings.WEBHOOK_BASIC_AUTH_USERNAME}:{settings.WEBHOOK_BASIC_AUTH_PASSWORD}".encode())
body = json.dumps({"userId": "1", "profileField": "Job Title", "value": "CEO", "oldValue": ""})
response = Client(HTTP_HOST="localhost").post(
    "/webhooks/community", body, content_type="application/json", HTTP_AUTHORIZATION="Basic " + auth.decode()
)
print(json.dumps({"status": response.status_code, "retry_after": response.get("Retry-After"), "body": response.json()}))
"""


def test_the_webhook_answers_503_with_retry_after_when_the_database_is_down():
    """A process whose database port is closed, as during a PostgreSQL restart."""
    result = run_with_database_unreachable(SCRIPT)

    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["status"] == 503, result.stderr[-2000:]
    assert reply["retry_after"] == "5"
    assert reply["body"]["error"] == "database_unavailable"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_rides_out_a_20_s_broker_outage_and_applies_what_comes_after(start_worker, tmp_path):
    """Celery 5.7 with kombu 5.7 exited ("Unrecoverable error: AttributeError ... 'hostname'") when
    the broker went away while it held unacknowledged messages, as it always does: the wake-ups
    intake sends are due half a second later, so the worker holds them until then."""
    from kombu import Connection

    from captpathfinder.celery import app as celery_app
    from detections.models import RawEvent
    from tests.detections.services.helpers import receive
    from tests.fixtures.redis import RedisServer

    redis = RedisServer(tmp_path).start()
    try:
        worker = start_worker(broker_url=redis.url, concurrency=2)
        with Connection(redis.url) as connection:
            for _ in range(20):
                celery_app.send_task("detections.tasks.events_process_pending", countdown=5, connection=connection)
        time.sleep(2)  # received, waiting for their time, unacknowledged

        redis.stop()
        time.sleep(20)
        redis.start()
        receive(user_id="8001", value="Chief Executive Officer")
        with Connection(redis.url) as connection:
            celery_app.send_task("detections.tasks.events_process_pending", connection=connection)

        wait_until(
            lambda: RawEvent.objects.filter(user_id="8001", processed_at__isnull=False).exists(),
            timeout=60,
            message="the worker, still running, to apply the event sent after the outage",
        )
        assert worker.proc.poll() is None
        assert "Unrecoverable" not in worker.log_path.read_text()
    finally:
        redis.stop()
