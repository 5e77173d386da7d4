"""Security defaults that are easy to lose in a refactor."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db
HOSTILE = '<script>alert("x")</script>'


def test_session_authenticated_api_writes_need_a_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post("/api/digests/send", {}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_admin_pages_escape_member_supplied_text(admin_client):
    SeniorMemberFactory(username=HOSTILE, title=HOSTILE)
    DetectionFactory(username=HOSTILE, title=HOSTILE)

    for url in [
        reverse("admin:detections_seniormember_changelist"),
        reverse("admin:detections_detection_changelist"),
        reverse("admin:index"),
    ]:
        page = admin_client.get(url).content.decode()
        assert HOSTILE not in page, url


def test_admin_cells_isolate_a_right_to_left_override(admin_client):
    SeniorMemberFactory(username="Eve \u202egnp.exe")

    page = admin_client.get(reverse("admin:detections_seniormember_changelist")).content.decode()

    # Every admin page loads the console's stylesheet, which isolates each cell's text (the browser
    # test in tests/console/test_admin_browser.py checks what is drawn).
    assert "console/admin.css" in page
    stylesheet = Path(finders.find("console/admin.css")).read_text()
    assert "#result_list td, #result_list th, .readonly, .form-row p { unicode-bidi: isolate; }" in stylesheet


def test_the_admin_and_the_api_refuse_anonymous_callers(client):
    assert client.get(reverse("admin:index")).status_code == 302
    assert client.get("/api/members").status_code == 401
    assert client.get("/metrics").status_code == 401


def test_nested_validation_errors_are_plain_strings_by_field_path():
    from rest_framework.exceptions import ValidationError

    from core.errors import error_data

    body = error_data(ValidationError({"titles": {0: ["Not a valid string."]}, "when": ["Required."]}))

    assert body["fields"] == {"titles.0": ["Not a valid string."], "when": ["Required."]}
    assert "ErrorDetail" not in str(body)
