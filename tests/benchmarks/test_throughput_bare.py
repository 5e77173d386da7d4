"""The bench's baseline endpoint answers with its own INSERT, not with the project's 404."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.db import connection

from benchmarks.throughput.bare_wsgi import TABLE, application


@pytest.fixture
def bench_bare_table():
    with connection.cursor() as cursor:
        cursor.execute(TABLE)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bare")


def post(path: str, body: bytes) -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)  # host 127.0.0.1, the wsgi.* keys
    replies = []
    response = application(environ, lambda status, headers: replies.append(status))
    try:
        return replies[0], b"".join(response)
    finally:
        response.close()  # as a WSGI server does: request_finished resets this thread's urlconf


@pytest.mark.django_db(transaction=True)
def test_the_bare_view_inserts_the_body_and_replies_like_the_webhook(bench_bare_table):
    status, body = post("/bare", b'{"userId": "1"}')
    reply = json.loads(body)

    assert status.startswith("202")
    assert reply["status"] == "accepted"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, body FROM bench_bare")
        assert cursor.fetchall() == [(reply["event_id"], '{"userId": "1"}')]


@pytest.mark.django_db(transaction=True)
def test_the_bare_app_serves_nothing_else(bench_bare_table):
    status, _ = post("/webhooks/community", b"{}")

    assert status.startswith("404")
