"""POST /api/reports/generate, and a real worker generating what it queued."""

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reports.models import Report
from reports.months import Month
from tests.conftest import wait_until
from tests.fixtures.worker import broker_unreachable


@pytest.mark.django_db
def test_anonymous_and_non_staff_callers_are_refused(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x")
    non_staff = APIClient()
    non_staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    assert APIClient().post("/api/reports/generate", {}, format="json").status_code == 401
    assert non_staff.post("/api/reports/generate", {}, format="json").status_code == 403
    assert not Report.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,message",
    [
        ({"month": "2026-13"}, "not a month"),
        ({"month": "October"}, "not a month"),
        ({"month": "2999-01"}, "has not started"),
        ({"month": 202610}, "not a month"),
    ],
)
def test_bad_months_are_a_400_naming_the_problem(staff_api, body, message):
    response = staff_api.post("/api/reports/generate", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and message in response.json()["fields"]["month"][0]
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_a_broker_outage_is_a_503_with_retry_after(staff_api):
    with broker_unreachable():
        response = staff_api.post("/api/reports/generate", {"month": "2026-10"}, format="json")

    assert response.status_code == 503
    assert response.json()["error"] == "queue_unavailable" and response["Retry-After"] == "30"


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_real_worker_generates_the_requested_report(staff_api, start_worker, october, tmp_path):
    start_worker(extra_env={"MEDIA_ROOT": str(tmp_path / "media")})

    response = staff_api.post("/api/reports/generate", {"month": "2026-10"}, format="json")

    assert response.status_code == 202 and response.json()["status"] == "queued"
    report = wait_until(
        lambda: Report.objects.filter(month="2026-10-01", status="ready").first(), message="the report to be ready"
    )
    assert report.detection_count == 4
    assert (tmp_path / "media" / report.csv_file.name).exists()


@pytest.mark.django_db
def test_the_default_month_is_the_last_complete_one(staff_api, monkeypatch):
    queued = []
    monkeypatch.setattr("reports.tasks.report_generate_month.delay", queued.append)

    response = staff_api.post("/api/reports/generate", {}, format="json")

    expected = str(Month.of(timezone.now()).previous())
    assert response.status_code == 202 and response.json()["month"] == expected and queued == [expected]
