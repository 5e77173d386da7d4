import base64
import json
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.test import Client
from standardwebhooks.webhooks import Webhook

from detections.selectors import tracked_fields_cache_clear

pytest_plugins = [
    "tests.fixtures.worker",
    "tests.fixtures.insided",
    "tests.fixtures.control_room",
    "tests.fixtures.salesforce",
    "tests.fixtures.reports",
    "tests.fixtures.web",
    "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _fresh_caches():
    tracked_fields_cache_clear()
    from django.core.cache import cache

    from core.throttling import local_counts_clear

    cache.clear()
    local_counts_clear()
    yield
    tracked_fields_cache_clear()


@pytest.fixture(autouse=True)
def _everyone_audience(request):
    """Every database test starts with the installation's "Everyone" audience, as a migrated
    database has it: a test that flushes the database (transaction=True) takes it away."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from tests.factories import everyone_audience

    everyone_audience()


def basic_auth_header(username=None, password=None) -> str:
    username = settings.WEBHOOK_BASIC_AUTH_USERNAME if username is None else username
    password = settings.WEBHOOK_BASIC_AUTH_PASSWORD if password is None else password
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def signed_headers(body: str, *, msg_id: str = "msg_1", timestamp: datetime | None = None, secret=None) -> dict:
    timestamp = timestamp or datetime.now(tz=UTC)
    signature = Webhook(secret or settings.WEBHOOK_SIGNING_SECRET).sign(msg_id=msg_id, timestamp=timestamp, data=body)
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(timestamp.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }


def profile_update(user_id="2000", value="VP of Sales", old_value="Sales Manager", field="Job Title", **extra) -> dict:
    return {
        "userId": user_id,
        "username": extra.pop("username", f"Member {user_id}"),
        "profileFieldId": "123",
        "profileField": field,
        "value": value,
        "oldValue": old_value,
        **extra,
    }


class WebhookClient:
    """Posts webhooks the way inSided does (HTTP Basic) unless told otherwise."""

    def __init__(self) -> None:
        self.client = Client()

    def post(self, payload, *, path="/webhooks/community", content_type="application/json", **headers):
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        headers.setdefault("HTTP_AUTHORIZATION", basic_auth_header())
        return self.client.generic("POST", path, body, content_type=content_type, **headers)


@pytest.fixture
def staff_api(admin_user):
    """An API client with a staff user's token, as a dashboard or script would call."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


@pytest.fixture
def webhook():
    return WebhookClient()


def wait_until(predicate, *, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def member_factory(db):
    from tests.factories import SeniorMemberFactory

    return SeniorMemberFactory


_REPORT_LINES: list[str] = []


def report_line(text: str) -> None:
    """A figure to print at the end of the test run (accuracy and the like)."""
    _REPORT_LINES.append(text)


def pytest_terminal_summary(terminalreporter):
    if _REPORT_LINES:
        terminalreporter.section("figures")
        for line in _REPORT_LINES:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items):
    """Every transactional test restores the database as migrations left it.

    A transactional test ends with a flush, which drops the rows data migrations seed (tracked
    fields, beat schedules) and re-creates content types under new ids; the next test with
    serialized_rollback then collides with them. Making serialized_rollback the rule for all
    transactional tests keeps their order irrelevant.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            kwargs = {**marker.kwargs, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)
