"""Request ids: taken from X-Request-ID or generated, returned, logged, and carried into tasks."""

import json
import logging

import pytest
from celery.signals import before_task_publish
from django.conf import settings

from tests.conftest import profile_update, wait_until

pytestmark = pytest.mark.django_db


def test_the_callers_request_id_is_returned(webhook):
    response = webhook.post(profile_update(), HTTP_X_REQUEST_ID="trace-abc-123")

    assert response["X-Request-ID"] == "trace-abc-123"


def test_a_request_id_is_generated_when_missing(client):
    first, second = client.get("/health")["X-Request-ID"], client.get("/health")["X-Request-ID"]

    assert len(first) == 32 and first != second


@pytest.mark.django_db(transaction=True)  # the wake-up is asked for on commit, inside the request
def test_the_request_id_travels_with_the_task_the_request_enqueues(webhook, purge_queue):
    published = []

    def capture(headers=None, **kwargs):
        published.append(headers)

    before_task_publish.connect(capture)
    try:
        webhook.post(profile_update(user_id="777"), HTTP_X_REQUEST_ID="trace-into-worker")
        # Published by the process's wake-up thread, after the reply (services.events_processing_wake_soon).
        wait_until(lambda: published, message="the wake-up task to be published")
    finally:
        before_task_publish.disconnect(capture)

    assert published and published[0]["X-Request-ID"] == "trace-into-worker"


def test_json_log_lines_carry_the_request_id():
    from logging.config import dictConfig

    config = json.loads(json.dumps(settings.LOGGING))  # a copy
    config["handlers"]["console"]["formatter"] = "json"
    dictConfig(config)
    try:
        handler = logging.getLogger().handlers[0]
        record = logging.LogRecord("captpathfinder", logging.INFO, __file__, 1, 'said "%s"', ("hi",), None)
        for log_filter in handler.filters:
            log_filter.filter(record)
        line = json.loads(handler.format(record))
    finally:
        dictConfig(settings.LOGGING)

    assert line["message"] == 'said "hi"' and line["level"] == "INFO" and line["logger"] == "captpathfinder"
    assert "request_id" in line and "time" in line


@pytest.mark.parametrize("given", ["x" * 7000, "abc\ndef", "<script>", "a b"])
def test_an_unreasonable_request_id_is_replaced(client, given):
    returned = client.get("/health", HTTP_X_REQUEST_ID=given)["X-Request-ID"]

    assert returned != given and len(returned) == 32
