"""The webhook's edges that only show on the wire — chunked and truncated bodies — over a raw
socket, on granian (the production server) and on a server that cannot de-chunk (Django's)."""

import http.client
import json
import socket

import pytest

from detections.models import RawEvent
from tests.conftest import basic_auth_header, profile_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["granian", "django"])
def server(request) -> tuple[str, tuple[str, int]]:
    if request.param == "granian":
        return "granian", request.getfixturevalue("granian_server")
    live = request.getfixturevalue("live_server")
    return "django", (live.thread.host, live.thread.port)


def exchange(address: tuple[str, int], head: str, body: bytes, *, half_close: bool = False) -> tuple[int, dict]:
    """Send `head` and `body` as they are, then (optionally) close our side; the status and the
    JSON reply, or (0, {}) when the server closed the connection without one."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
        except http.client.RemoteDisconnected:
            return 0, {}
        return response.status, json.loads(response.read() or b"{}")


def headers(**extra: str) -> str:
    lines = {
        "Host": "localhost",
        "Content-Type": "application/json",
        "Authorization": basic_auth_header(),
        "Connection": "close",
        **extra,
    }
    return "POST /webhooks/community HTTP/1.1\n" + "".join(f"{k}: {v}\n" for k, v in lines.items())


def test_a_chunked_body_is_read_where_the_server_marks_its_end_and_refused_with_411_elsewhere(server):
    name, address = server
    body = json.dumps(profile_update()).encode()
    chunked = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:20], body[20:]))

    status, reply = exchange(address, headers(**{"Transfer-Encoding": "chunked"}), chunked + b"0\r\n\r\n")

    if name == "granian":
        assert (status, reply["status"]) == (202, "accepted")
        assert RawEvent.objects.get().value == "VP of Sales"
    else:
        assert status == 411
        assert reply == {
            "error": "length_required",
            "detail": "Chunked bodies are not accepted here: send the body with a Content-Length.",
        }
        assert not RawEvent.objects.exists()


def test_an_oversized_chunked_body_is_413(granian_server, settings):
    body = b'{"userId": "1", "value": "' + b"x" * 70_000 + b'"}'

    status, reply = exchange(
        granian_server, headers(**{"Transfer-Encoding": "chunked"}), b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    )

    assert (status, reply["error"]) == (413, "payload_too_large")
    assert not RawEvent.objects.exists()


def test_a_body_shorter_than_its_content_length_is_not_stored(server):
    name, address = server
    body = json.dumps(profile_update()).encode()
    truncated = body[:-10]

    status, reply = exchange(address, headers(**{"Content-Length": str(len(body))}), truncated, half_close=True)

    announced = f"The body ended after {len(truncated)} of the {len(body)} bytes its Content-Length announced."
    assert (status, reply["detail"]) == (400, announced)
    assert not RawEvent.objects.exists()


def test_a_whole_body_over_the_wire_is_stored(server):
    _, address = server
    body = json.dumps(profile_update()).encode()

    status, reply = exchange(address, headers(**{"Content-Length": str(len(body))}), body)

    assert (status, reply["status"]) == (202, "accepted")
    assert RawEvent.objects.count() == 1


@pytest.mark.parametrize(
    "credentials",
    [{}, {"Authorization": basic_auth_header(password="wrong")}],
    ids=["none", "wrong"],
)
def test_a_sender_without_valid_credentials_is_refused_before_its_body_arrives(granian_server, credentials):
    """The probe of issue 36: headers and part of a body, then silence. On granian, the production
    server, the 401 comes at once, without waiting for the rest. (Django's development server
    drains a body before it flushes the reply.)"""
    address = granian_server
    head = headers(**{"Content-Length": "100"}, **credentials)
    if not credentials:
        head = head.replace(f"Authorization: {basic_auth_header()}\n", "")

    with socket.create_connection(address, timeout=5) as sock:  # a reply that waited for the body times out
        sock.sendall(head.replace("\n", "\r\n").encode() + b'\r\n{"userId"')
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, reply = response.status, json.loads(response.read())

    assert status == 401 and reply["error"] in ("not_authenticated", "authentication_failed")
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize(
    ("what", "extra", "body"),
    [
        ("a chunked body without its last chunk", {"Transfer-Encoding": "chunked"}, b"14\r\n" + b"x" * 20 + b"\r\n"),
        ("half a body, then silence", {"Content-Length": "300"}, b'{"userId": "2000"'),
    ],
    ids=["chunked-unfinished", "half-body"],
)
def test_behind_haproxy_an_unfinished_body_is_a_json_408_and_nothing_is_stored(haproxy_server, what, extra, body):
    """The production shape (issue 36): HAProxy waits for the whole request for 10 s, then answers
    408 in the API's JSON; granian never sees the unfinished request."""
    with socket.create_connection(haproxy_server, timeout=15) as sock:
        sock.sendall(headers(**extra).replace("\n", "\r\n").encode() + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, reply = response.status, json.loads(response.read())

    assert status == 408, what
    assert reply["error"] == "request_timeout" and "nothing was stored" in reply["detail"]
    assert not RawEvent.objects.exists()


def test_behind_haproxy_a_whole_webhook_is_stored(haproxy_server):
    body = json.dumps(profile_update()).encode()

    status, reply = exchange(haproxy_server, headers(**{"Content-Length": str(len(body))}), body)

    assert (status, reply["status"]) == (202, "accepted")
    assert RawEvent.objects.get().value == "VP of Sales"
