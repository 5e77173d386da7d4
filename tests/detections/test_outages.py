"""The webhook during a database outage: a 503 the sender retries, never a 500 or a false 202."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="captpathfinder.settings.test",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/unreachable",
        DATABASE_POOL="false",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["status"] == 503, result.stderr[-2000:]
    assert reply["retry_after"] == "5"
    assert reply["body"]["error"] == "database_unavailable"
