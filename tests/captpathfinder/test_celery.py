"""The worker's database connections, through a real Celery worker process and PostgreSQL."""

import re
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


def test_every_task_has_a_soft_and_a_hard_time_limit():
    from captpathfinder.celery import app

    app.loader.import_default_modules()
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_a_task_past_its_soft_limit_rolls_back_and_retries_while_others_go_on(webhook, start_worker):
    import psycopg

    from captpathfinder.celery import app as celery_app
    from detections.locks import PROCESSING_LOCK_NAMESPACE
    from detections.models import PendingEvent, SeniorMember
    from tests.fixtures.worker import database_url_for_tests

    # Given a member's event, and the member's processing lock held elsewhere, so that applying
    # it takes longer than a one-second soft limit
    assert webhook.post(profile_update(user_id="7100", value="Chief Financial Officer")).status_code == 202
    with psycopg.connect(database_url_for_tests().replace("postgres://", "postgresql://"), autocommit=True) as blocker:
        blocker.execute("SELECT pg_advisory_lock(%s, hashtext('7100'))", [PROCESSING_LOCK_NAMESPACE])
        worker = start_worker(
            concurrency=2, extra_env={"CELERY_TASK_SOFT_TIME_LIMIT": "1", "CELERY_TASK_TIME_LIMIT": "30"}
        )

        # When its own task runs into the limit
        celery_app.send_task("detections.tasks.events_process_member", args=["7100"])
        wait_until(
            lambda: re.search(r"retry: Retry in \S+: SoftTimeLimitExceeded", worker.log_path.read_text()),
            timeout=30,
            message="the task to pass its soft limit and be retried",
        )

        # Then its transaction rolled back, the event waits, and other members are applied meanwhile
        assert RawEvent.objects.get(user_id="7100").processed_at is None
        assert PendingEvent.objects.filter(event__user_id="7100").exists()
        assert webhook.post(profile_update(user_id="7101", value="VP of Sales")).status_code == 202
        wait_until(lambda: SeniorMember.objects.filter(user_id="7101").exists(), message="another member applied")
        blocker.execute("SELECT pg_advisory_unlock(%s, hashtext('7100'))", [PROCESSING_LOCK_NAMESPACE])

    # And once the member can be had, a retry applies its event: nothing lost, nothing set aside
    wait_until(lambda: SeniorMember.objects.filter(user_id="7100").exists(), message="the event applied on retry")
    assert RawEvent.objects.get(user_id="7100").outcome == "created"
    assert worker.proc.poll() is None and "Hard time limit" not in worker.log_path.read_text()


def test_a_batch_past_its_soft_limit_hands_its_members_to_their_own_tasks(webhook, start_worker):
    import psycopg

    from detections.models import SeniorMember
    from tests.fixtures.worker import database_url_for_tests

    # Given two members' events in one batch, one of them held so the batch stops inside its
    # transaction (a member that takes too long to apply)
    for user_id, title in (("7200", "Chief Financial Officer"), ("7201", "VP of Sales")):
        assert webhook.post(profile_update(user_id=user_id, value=title)).status_code == 202
    with psycopg.connect(database_url_for_tests().replace("postgres://", "postgresql://"), autocommit=False) as blocker:
        blocker.execute("SELECT id FROM detections_rawevent WHERE user_id = '7200' FOR UPDATE")
        worker = start_worker(
            concurrency=2, extra_env={"CELERY_TASK_SOFT_TIME_LIMIT": "1", "CELERY_TASK_TIME_LIMIT": "30"}
        )

        # When the batch passes its soft limit, then the other member is applied by a task of its own
        wait_until(lambda: SeniorMember.objects.filter(user_id="7201").exists(), message="the other member applied")
        assert "events batch past its soft time limit" in worker.log_path.read_text()
        assert RawEvent.objects.get(user_id="7200").processed_at is None
        blocker.rollback()

    # And the held member follows once it can be applied
    wait_until(lambda: SeniorMember.objects.filter(user_id="7200").exists(), message="the held member applied")
    assert {e.outcome for e in RawEvent.objects.all()} == {"created"}


def test_the_rules_are_loaded_once_before_the_pool_forks(webhook, start_worker):
    worker = start_worker(concurrency=2)

    for user_id, title in (("7101", "VP of Sales"), ("7102", "Chief Financial Officer")):
        deliver_and_wait(webhook, user_id, title)

    log = worker.log_path.read_text()
    loads = [m.start() for m in re.finditer(r"classification ruleset \S+ active", log)]
    assert len(loads) == 1, "the main process loads them; its pool processes inherit them"
    assert loads[0] < log.index(" ready."), "loaded before the worker takes tasks"
