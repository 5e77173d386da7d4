"""A local fake of the inSided API: OAuth2 client credentials, the user endpoint and the user list.

It speaks HTTP on 127.0.0.1 like the real service, including its failures: 500s, 429s (also
when called faster than `max_per_second`), 401 for an expired or revoked token, and 404 for
an unknown user. The list (GET /api1/user?page=&pageSize=) answers {"result": [...],
"totalHits": N}, filters on `joinedAfter`, and can leave profile fields out of its entries.
"""

from __future__ import annotations

import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http import JSONHandler


class FakeInsided:
    client_id = "test-client"
    client_secret = "test-client-secret"

    def __init__(self, *, token_lifetime: int = 7200) -> None:
        self.token_lifetime = token_lifetime
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.user_requests = 0
        self.failures: list[int] = []  # statuses to answer the next user requests with
        self.page_failures: dict[int, list[int]] = {}  # list page -> statuses to answer it with first
        self.list_without_fields = False  # list entries carry no profile fields (as a lean list would)
        self.max_per_second: float | None = None  # answer 429 to requests closer together than this
        self.list_requests: list[dict] = []  # query of each list request
        self.request_times: list[float] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeInsided:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, user_id, *, username="", job_title=None, country="", company="", created_at=None):
        fields = []
        if job_title is not None:
            fields.append({"id": 1, "name": "Job Title", "value": job_title})
        if country:
            fields.append({"id": 2, "name": "Country", "value": country})
        if company:
            fields.append({"id": 3, "name": "Company", "value": company})
        self.users[str(user_id)] = {
            "userid": int(user_id) if str(user_id).isdigit() else user_id,
            "username": username or f"user{user_id}",
            "created_at": created_at or "2019-10-10T16:07:21+02:00",
            "profile_fields": fields,
        }

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def do_POST(self):
                if self.path != "/oauth2/token":
                    return self._reply(404, {"error": "not_found"})
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake._lock:
                    fake.token_requests += 1
                if form.get("grant_type") != "client_credentials":
                    return self._reply(400, {"error": "unsupported_grant_type"})
                if (form.get("client_id"), form.get("client_secret")) != (fake.client_id, fake.client_secret):
                    return self._reply(401, {"error": "invalid_client"})
                token = uuid.uuid4().hex
                with fake._lock:
                    fake.tokens[token] = time.monotonic() + fake.token_lifetime
                return self._reply(
                    200, {"access_token": token, "token_type": "bearer", "expires_in": fake.token_lifetime}
                )

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/api1/user":
                    return self._list(parse_qs(url.query))
                if not url.path.startswith("/api1/user/"):
                    return self._reply(404, {"error": "not_found"})
                with fake._lock:
                    fake.user_requests += 1
                    failure = fake.failures.pop(0) if fake.failures else None
                    too_fast = self._too_fast()
                if failure or too_fast:
                    return self._reply(failure or 429, {"error": "injected failure" if failure else "rate limited"})
                if not self._token_valid():
                    return self._reply(401, {"error": "invalid_token"})
                user = fake.users.get(url.path.rsplit("/", 1)[1])
                if user is None:
                    return self._reply(404, {"error": "user not found"})
                return self._reply(200, user)

            def _too_fast(self) -> bool:
                now = time.monotonic()
                too_fast = bool(
                    fake.max_per_second
                    and fake.request_times
                    and now - fake.request_times[-1] < 1 / fake.max_per_second
                )
                fake.request_times.append(now)
                return too_fast

            def _token_valid(self) -> bool:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake._lock:
                    expiry = fake.tokens.get(token)
                return expiry is not None and expiry >= time.monotonic()

            def _list(self, query: dict) -> None:
                params = {k: v[0] for k, v in query.items()}
                try:
                    page, size = int(params.get("page", 1)), min(int(params.get("pageSize", 20)), 100)
                except ValueError:
                    return self._reply(400, {"error": "page and pageSize must be numbers"})
                with fake._lock:
                    fake.list_requests.append(params)
                    pending = fake.page_failures.get(page)
                    failure = pending.pop(0) if pending else None
                    too_fast = self._too_fast()
                if failure or too_fast:
                    return self._reply(failure or 429, {"error": "injected failure" if failure else "rate limited"})
                if not self._token_valid():
                    return self._reply(401, {"error": "invalid_token"})
                users = sorted(fake.users.values(), key=lambda u: str(u["userid"]).zfill(12))
                if "joinedAfter" in params:
                    users = [u for u in users if u["created_at"] > params["joinedAfter"]]
                chunk = users[(page - 1) * size : page * size]
                if fake.list_without_fields:
                    chunk = [{k: v for k, v in u.items() if k != "profile_fields"} for u in chunk]
                return self._reply(200, {"result": chunk, "totalHits": len(users), "page": page})

        return Handler
