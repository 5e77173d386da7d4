"""/metrics: protected, and moving as webhooks, detections and deliveries flow."""

import re

import pytest
from django.test import Client

from detections.services.processing import member_events_process
from tests.conftest import profile_update

pytestmark = pytest.mark.django_db


TOKEN = "metrics-secret"  # noqa: S105 (a test value)


def scrape() -> str:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(label_text)}}} (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match[1]) if match else 0.0


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def test_metrics_are_not_public(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_a_staff_session_may_read_them(admin_client):
    assert admin_client.get("/metrics").status_code == 200


def test_metrics_move_as_webhooks_flow(webhook):
    before = scrape()

    webhook.post(profile_update(user_id="501", value="Chief Financial Officer"))
    webhook.post(profile_update(user_id="501", value="Chief Financial Officer"))  # a redelivery
    webhook.post("not json")
    middle = scrape()
    member_events_process(user_id="501")
    after = scrape()

    def delta(text, name, **labels):
        return value(text, name, **labels) - value(before, name, **labels)

    assert delta(middle, "captpathfinder_webhooks_total", outcome="accepted") == 1
    assert delta(middle, "captpathfinder_webhooks_total", outcome="duplicate") == 1
    assert delta(middle, "captpathfinder_webhooks_total", outcome="rejected_400") == 1
    assert value(middle, "captpathfinder_events_unprocessed") == 1
    assert value(after, "captpathfinder_events_unprocessed") == 0
    assert delta(after, "captpathfinder_classifications_total", level="csuite") >= 1
    assert value(after, "captpathfinder_senior_members", level="csuite") == 1
    assert value(after, "captpathfinder_detections_last_24h", level="csuite") == 1
    assert value(after, "captpathfinder_database_up") == 1
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in after


def test_a_member_set_aside_is_counted_and_gauged():
    from detections.services.processing import events_drain
    from tests.factories import RawEventFactory, SeniorMemberFactory

    before = scrape()
    SeniorMemberFactory(user_id="p")
    RawEventFactory(user_id="p", field="Company", field_role="company", value="x" * 300)  # the database refuses it

    events_drain()

    after = scrape()
    assert value(after, "captpathfinder_events_failed_total") - value(before, "captpathfinder_events_failed_total") == 1
    assert value(after, "captpathfinder_events_set_aside") == 1
