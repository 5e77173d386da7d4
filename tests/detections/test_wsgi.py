"""The webhook's fast lane at the WSGI entry: what Django's handler did for it, it still does."""

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from prometheus_client import REGISTRY

from detections.models import RawEvent
from detections.wsgi import WebhookFastLane
from tests.conftest import WebhookClient, basic_auth_header, profile_update, wsgi_client

pytestmark = pytest.mark.django_db


def test_production_serves_the_lane_in_front_of_django():
    from captpathfinder import wsgi

    assert isinstance(wsgi.application, WebhookFastLane)
    assert isinstance(wsgi.application.django_application, WSGIHandler)


def test_other_requests_go_to_django_untouched():
    client = wsgi_client()

    assert client.get("/health").status_code == 200
    get = client.get("/webhooks/community", HTTP_AUTHORIZATION=basic_auth_header())
    assert get.status_code == 405  # only a POST takes the lane; Django's view words the refusal


def test_a_reply_is_counted_by_status_view_and_method(webhook):
    labels = {"view": "webhook-community", "method": "POST"}
    replies = {"status": "202", **labels}
    before = REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", replies) or 0
    timed = REGISTRY.get_sample_value("django_http_requests_latency_seconds_by_view_method_count", labels) or 0

    response = webhook.post(profile_update(user_id="41"))

    assert response.json()["status"] == "accepted"
    assert REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", replies) == before + 1
    assert REGISTRY.get_sample_value("django_http_requests_latency_seconds_by_view_method_count", labels) == timed + 1


def test_the_request_signals_are_sent_once_each(webhook):
    sent = []

    def record(sender, **kwargs):
        sent.append(sender)

    request_started.connect(record)
    request_finished.connect(record)
    try:
        assert webhook.post(profile_update(user_id="42")).json()["status"] == "accepted"
    finally:
        request_started.disconnect(record)
        request_finished.disconnect(record)

    # request_finished (connections checked, the request id cleared) comes from the response.
    assert len(sent) == 2 and sent[0] is WebhookFastLane


def test_a_request_id_is_made_for_a_caller_without_one(webhook):
    first, second = (webhook.post(profile_update(user_id=user_id)) for user_id in ("43", "44"))

    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    assert first["Access-Control-Expose-Headers"] == "X-Request-ID"


def test_what_the_lane_read_but_does_not_answer_reaches_django_with_its_body(webhook):
    # The fast path reads and parses the body before it finds the value is not a string.
    response = webhook.post(profile_update(user_id="45", value=["VP"]))

    assert response.status_code == 400
    assert response.json()["fields"] == {"value": ["Must be a string."]}
    assert not RawEvent.objects.exists()


def test_plain_http_is_redirected_when_https_is_required(settings):
    settings.SECURE_SSL_REDIRECT = True

    response = WebhookClient().post(profile_update(user_id="46"))

    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert not RawEvent.objects.exists()
