"""The webhook during a database outage: a 503 the sender retries, never a 500 or a false 202."""

import json

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
