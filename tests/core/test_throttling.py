"""Rate limits: 429 with Retry-After, per token, per IP without credentials, on the webhook."""

import socket
import threading
import time

import pytest
import redis
from rest_framework.test import APIClient

from core import throttling
from tests.concurrency import run_together
from tests.conftest import profile_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings, monkeypatch):
    # The limits count in fixed windows: a window that rolled over between a test's requests would
    # start its count again. The throttles' clock stands still in the middle of the current minute.
    now = time.time()
    monkeypatch.setattr(throttling.FixedWindowRateThrottle, "timer", staticmethod(lambda: now // 60 * 60 + 30))

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def test_a_token_over_its_limit_gets_429_with_retry_after(staff_api, rates):
    rates(user="3/min")

    codes = [staff_api.get("/api/stats").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    response = staff_api.get("/api/stats")
    assert response.json()["error"] == "throttled" and 1 <= int(response["Retry-After"]) <= 60


def test_anonymous_and_wrong_credentials_are_limited_per_ip(rates):
    rates(unauthenticated="3/min")
    anonymous, wrong = APIClient(), APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token guessed")

    codes = [anonymous.get("/api/members").status_code, wrong.get("/api/members").status_code]
    codes += [anonymous.get("/api/stats").status_code, wrong.get("/api/stats").status_code]
    other_ip = APIClient(REMOTE_ADDR="10.0.0.9").get("/api/stats").status_code

    assert codes == [401, 401, 401, 429] and other_ip == 401


def test_a_token_without_the_permission_is_limited_too(django_user_model, rates):
    """The issue's probe: a staff token with no permissions got 150 × 403 and never a 429."""
    from rest_framework.authtoken.models import Token

    rates(unauthenticated="3/min")
    user = django_user_model.objects.create_user("probe", password="x", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    codes = [client.get("/api/members").status_code for _ in range(4)]

    assert codes == [403, 403, 403, 429]


def test_the_webhook_has_its_own_generous_limit(webhook, rates):
    rates(webhook="2/min")

    codes = [webhook.post(profile_update(user_id=str(i))).status_code for i in range(3)]

    assert codes == [202, 202, 429]


def test_a_busy_limit_sends_its_count_in_batches(monkeypatch):
    sent = []
    monkeypatch.setattr(throttling, "_shared_increment", lambda key, amount, ttl: sent.append(amount) or sum(sent))
    monkeypatch.setattr(throttling, "_SEND_AT_LEAST_EVERY_SECONDS", 3600)

    counts = [throttling.window_count("k", 60, batch=5) for _ in range(12)]

    assert sent == [1, 5, 5]  # the first request opens the window, then one round trip per 5
    assert counts[-1] == 12  # 11 sent and known, plus the one pending


def test_threads_counting_at_once_send_each_request_once(settings):
    """A web process runs Django on several threads; every request is counted once in Redis."""
    assert settings.REDIS_URL, "runs against the suite's Redis"
    key = f"captpathfinder:test-threads:{threading.get_ident()}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(key)

    def count() -> None:
        for _ in range(2000):
            throttling.window_count(key, 60, batch=50)

    run_together(count, count, count, count)

    pending = throttling._local[key][0]
    assert int(client.get(key)) + pending == 4 * 2000
    client.delete(key)


class SilentServer:
    """A TCP server that accepts connections and never answers: Redis behind a black hole."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def _accept(self) -> None:
        try:
            while True:
                self.connections.append(self.listener.accept()[0])
        except OSError:  # closed
            pass

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


def test_a_redis_that_does_not_answer_is_tried_once_per_backoff_and_requests_go_through(settings):
    silent = SilentServer()
    settings.REDIS_URL = silent.url
    try:
        counts = [throttling.window_count("captpathfinder:test-silent", 60, batch=1) for _ in range(3)]

        assert counts == [0, 0, 0]  # the shared count unknown: every request is let through
        assert len(silent.connections) == 1  # the first waited for the timeout; the others skipped Redis

        throttling._redis_backoff.reset()  # the backoff is over
        throttling.window_count("captpathfinder:test-silent", 60, batch=1)

        assert len(silent.connections) == 2
    finally:
        silent.close()
