"""GET /health and /health/ready, with real outages: a closed database port, an unreachable broker."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.factories import RawEventFactory
from tests.fixtures.outages import run_with_database_unreachable
from tests.fixtures.worker import broker_unreachable

pytestmark = pytest.mark.django_db


@pytest.fixture
def beat_ran():
    PeriodicTask.objects.filter(task="detections.tasks.events_sweep_unprocessed").update(last_run_at=timezone.now())


def test_liveness_needs_nothing(client):
    response = client.get("/health")

    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_everything_answers(client, beat_ran):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"
    assert set(response.json()["checks"]) == {"database", "broker", "beat", "backlog", "set_aside"}


def test_not_ready_when_the_broker_is_down(client, beat_ran):
    with broker_unreachable():
        response = client.get("/health/ready")

    body = response.json()
    assert response.status_code == 503 and body["status"] == "not_ready"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["database"]["ok"] is True


def test_not_ready_when_beat_is_silent_or_the_backlog_is_old(client, beat_ran):
    PeriodicTask.objects.filter(task="detections.tasks.events_sweep_unprocessed").update(
        last_run_at=timezone.now() - timedelta(hours=1)
    )
    RawEventFactory(received_at=timezone.now() - timedelta(hours=1))

    checks = client.get("/health/ready").json()["checks"]

    assert checks["beat"]["ok"] is False and "s ago" in checks["beat"]["detail"]
    assert checks["backlog"]["ok"] is False and "1 events waiting" in checks["backlog"]["detail"]


def test_not_ready_when_the_database_is_down():
    """A process whose DATABASE_URL points at a closed port: readiness says so, with a 503."""
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='localhost').get('/health/ready'); print(r.status_code, json.dumps(r.json()))"
    )
    result = run_with_database_unreachable(script)

    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    checks = json.loads(body)["checks"]
    assert status == "503", result.stderr[-2000:]
    assert checks["database"]["ok"] is False and checks["backlog"]["detail"] == "skipped: no database"
    # Public: which check failed, not the driver's text (it names the host and port).
    assert checks["database"]["detail"].startswith("unavailable (OperationalError")
    assert "127.0.0.1" not in body and "port" not in checks["database"]["detail"]


def test_staff_see_why_a_check_failed(admin_client, beat_ran):
    with broker_unreachable():
        public = Client().get("/health/ready").json()["checks"]["broker"]["detail"]
        staff = admin_client.get("/health/ready").json()["checks"]["broker"]["detail"]

    assert public.startswith("unavailable (") and staff != public


def test_a_fresh_schedule_gives_beat_its_first_minute(client):
    PeriodicTask.objects.filter(task="detections.tasks.events_sweep_unprocessed").update(
        last_run_at=None, date_changed=timezone.now()
    )

    assert client.get("/health/ready").json()["checks"]["beat"]["ok"] is True


def test_a_failing_privilege_check_never_turns_not_ready_into_a_500(client, beat_ran, monkeypatch):
    """A staff session is read from the database; with the database down that read fails too."""
    from console import health

    def broken(request):
        raise RuntimeError("session store unavailable")

    monkeypatch.setattr(health, "operator_or_scraper", broken)
    with broker_unreachable():
        response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["detail"].startswith("unavailable (")
