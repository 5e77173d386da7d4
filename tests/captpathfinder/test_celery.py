"""The worker's database connections, through a real Celery worker process and PostgreSQL."""

import uuid

import pytest
from django.db import connection

from detections.models import RawEvent
from tests.conftest import profile_update, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def worker_backends(application_name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return [pid for (pid,) in cursor.fetchall()]


def deliver_and_wait(webhook, user_id: str, title: str) -> None:
    response = webhook.post(profile_update(user_id=user_id, value=title))
    assert response.json()["status"] == "accepted"
    wait_until(
        lambda: RawEvent.objects.filter(user_id=user_id, processed_at__isnull=False).exists(),
        message=f"the worker to apply member {user_id}'s event",
    )


def test_worker_keeps_its_connection_between_tasks_and_replaces_a_dead_one(webhook, start_worker, tmp_path):
    name = f"worker-{uuid.uuid4().hex[:8]}"  # libpq reads PGAPPNAME: our backends, by name
    worker = start_worker(concurrency=1, extra_env={"PGAPPNAME": name})

    deliver_and_wait(webhook, "7001", "VP of Sales")
    first = worker_backends(name)
    assert len(first) == 1, "the connection is kept after the task (Celery's fixup would close it)"

    deliver_and_wait(webhook, "7002", "Chief Financial Officer")
    assert worker_backends(name) == first, "the next task runs on the same backend"

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first[0]])
    wait_until(lambda: worker_backends(name) == [], message="the backend to end")

    deliver_and_wait(webhook, "7003", "Chief Executive Officer")
    replaced = worker_backends(name)
    assert len(replaced) == 1 and replaced != first
    log = worker.log_path.read_text()
    assert "Retry in" not in log and "OperationalError" not in log, "no task started on the dead connection"
