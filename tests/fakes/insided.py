"""A local fake of the inSided API, answering as the published User API (version 20260811093422)
documents it: `POST /oauth2/token`, `GET /user/{id}`, `GET /user` (the member list) and
`GET /user/{field}/{value}` (find by), each also under `/api1`.

Shapes, field for field from the spec (`tests/fakes/insided_user_api.schema.json` holds the spec's
schemas; the contract tests validate every reply against them):

- a `User` has `userid` (integer), `username`, `email`, `joindate` / `lastactivity` / `lastvisit`
  (integers, Unix seconds), counters, rank fields, and `_related` with `userprofilefields` (items
  `{"id", "userid", "profilefieldid", "value", "profilefield_name", "_related"}`), `badges`,
  `badgesCount` and `roles`;
- the member list answers `{"users": [...], "statistics": {"count": N}}` with `_returnIterable=true`,
  and otherwise an object of `statistics` plus one property per user (the spec does not say what
  the properties are named; here, the user id); it pages with `page` (from 1) and `pageSize`
  (default 25), and filters on `filter[joindate][from|to]`, `filter[lastactivity][from|to]`
  (yyyy-mm-dd, inclusive) and `filter[userid][]`;
- find-by answers `{"result": {"userid", "email", "username", "rank", "joindate" (ISO 8601),
  "profileFields": [{"name", "NormalizedValue"}], ...}}`;
- errors: 404 "Not Found" (the spec gives it no body) and 500 `{"message": "..."}`.

Not documented, so chosen here and said so: the token endpoint's error bodies (OAuth2's
`{"error": ...}`), a 401 for an expired or revoked token (no body), and 429, which inSided does not
publish (no rate limits are documented) but a proxy in front of it may send.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http import JSONHandler

DEFAULT_JOINED = datetime(2019, 10, 10, 14, 7, 21, tzinfo=UTC)
# The profile fields' ids in this fake community (profilefieldid).
PROFILE_FIELD_IDS = {"Job Title": 11, "Country": 12, "Company": 13}


def spec_user(
    user_id: int,
    *,
    username: str,
    fields: dict[str, str],
    joined: datetime = DEFAULT_JOINED,
    last_activity: datetime | None = None,
) -> dict:
    """A `User` as GET /user/{id} returns it: every property of the spec's schema."""
    joindate = int(joined.timestamp())
    active = int((last_activity or joined).timestamp())
    return {
        "userid": user_id,
        "usergroupid": 0,
        "membergroupids": 0,
        "displaygroupid": 0,
        "username": username,
        "email": f"{username.lower().replace(' ', '.')}@example.com",
        "posts": 3,
        "deleted_posts": 0,
        "options": 0,
        "autosubscribe": 1,
        "customoptions": 0,
        "topics": 1,
        "solved": 0,
        "ipaddress": "198.51.100.7",
        "usertitle": "",
        "customtitle": 0,
        "session_ids_flagged_for_logout": [],
        "external_logout_at": None,
        "pmunread": 0,
        "subscriptions": 2,
        "pmtotal": 0,
        "following": 0,
        "followers": 0,
        "avatar": "",
        "signature": "",
        "reputation": 10,
        "lastvisit": active,
        "lastactivity": active,
        "insided_sso_customeruid": "",
        "reviewcount": 0,
        "ratingcount": 0,
        "lastpostid": 0,
        "lastpost": 0,
        "joindate": joindate,
        "likes": 0,
        "likes_given": 0,
        "blogposts": 0,
        "researches": 0,
        "rank_id": 1,
        "rank_name": "New Participant",
        "rank_display_name": "New Participant",
        "rank_avatar_icon": None,
        "rank_avatar_icon_thumb": None,
        "is_moderator": 0,
        "cdn": "https://cdn.example.com",
        "autoAddToFavorites": True,
        "crudListCacheDependencyKey": f"user-{user_id}",
        "id": str(user_id),
        "_related": {
            "userprofilefields": [
                {
                    "id": user_id * 100 + n,
                    "userid": user_id,
                    "profilefieldid": PROFILE_FIELD_IDS.get(name, 20 + n),
                    "value": value,
                    "profilefield_name": name,
                    "_related": [],
                }
                for n, (name, value) in enumerate(fields.items())
            ],
            "badges": [],
            "badgesCount": 0,
            "roles": [
                {
                    "auth_item_id": 3,
                    "itemname": "roles.registered",
                    "userid": user_id,
                    "bizrule": None,
                    "data": None,
                    "_related": {
                        "items": {
                            "id": 3,
                            "name": "roles.registered",
                            "type": 2,
                            "description": None,
                            "bizrule": None,
                            "data": None,
                            "visible": 1,
                            "main": 1,
                            "order": 3,
                            "exclude_for_spam_check": 0,
                            "_related": [],
                        }
                    },
                }
            ],
        },
    }


def spec_found_user(user: dict) -> dict:
    """The same member as GET /user/{field}/{value} returns it (FindByUserResponse)."""
    joined = datetime.fromtimestamp(user["joindate"], tz=UTC).isoformat()
    return {
        "userid": user["userid"],
        "email": user["email"],
        "username": user["username"],
        "rank": user["rank_name"],
        "joindate": joined,
        "profileFields": [
            {"name": item["profilefield_name"], "NormalizedValue": item["value"]}
            for item in user["_related"]["userprofilefields"]
        ],
        "roles": [],
        "user_statistics": {},
        "sso": {},
    }


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
        self.list_without_fields = False  # list entries carry no `_related` (the spec does not promise it)
        self.max_page_size: int | None = None  # a server that answers smaller pages than asked
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

    def add_user(
        self,
        user_id,
        *,
        username="",
        job_title=None,
        country="",
        company="",
        joined: datetime = DEFAULT_JOINED,
        last_activity: datetime | None = None,
        fields: dict[str, str] | None = None,
    ) -> dict:
        """A member whose profile has the given fields (a None or empty one is left out, as a
        field the member never filled in; `fields` adds others by name)."""
        named = {"Job Title": job_title, "Country": country or None, "Company": company or None}
        profile = {name: value for name, value in named.items() if value is not None}
        profile.update(fields or {})
        user = spec_user(
            int(user_id),
            username=username or f"user{user_id}",
            fields=profile,
            joined=joined,
            last_activity=last_activity,
        )
        self.users[str(user_id)] = user
        return user

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def do_POST(self):
                if self.path != "/oauth2/token":
                    return self._reply(404, b"Not Found")
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
                    200, {"token_type": "bearer", "access_token": token, "expires_in": fake.token_lifetime}
                )

            def do_GET(self):
                url = urlsplit(self.path)
                path = url.path.removeprefix("/api1")
                parts = [unquote(part) for part in path.strip("/").split("/")]
                if parts[0] != "user" or len(parts) > 3:
                    return self._reply(404, b"Not Found")
                if len(parts) == 1:
                    return self._list(parse_qs(url.query))
                with fake._lock:
                    fake.user_requests += 1
                    failure = fake.failures.pop(0) if fake.failures else None
                    too_fast = self._too_fast()
                if failure or too_fast:
                    return self._fail(failure or 429)
                if not self._token_valid():
                    return self._reply(401, b"")
                if len(parts) == 3:
                    return self._find(parts[1], parts[2])
                user = fake.users.get(parts[1])
                if user is None:
                    return self._reply(404, b"Not Found")
                return self._reply(200, user)

            def _find(self, field: str, value: str) -> None:
                if field not in ("email", "userid", "username"):
                    return self._reply(404, b"Not Found")
                user = next((u for u in fake.users.values() if str(u[field]) == value), None)
                if user is None:
                    return self._reply(404, b"Not Found")
                return self._reply(200, {"result": spec_found_user(user)})

            def _fail(self, status: int) -> None:
                if status >= 500:
                    return self._reply(status, {"message": "Internal Server Error"})
                return self._reply(status, b"")

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
                params = {k: v if k.endswith("[]") else v[0] for k, v in query.items()}
                try:
                    page, size = int(params.get("page", 1)), int(params.get("pageSize", 25))
                    bounds = {
                        k: date.fromisoformat(v)
                        for k, v in params.items()
                        if k.startswith("filter[") and "][" in k and not k.endswith("[]")
                    }
                except ValueError:
                    return self._fail(500)  # what a malformed parameter gets is not documented
                size = min(size, fake.max_page_size or size)
                with fake._lock:
                    fake.list_requests.append(params)
                    pending = fake.page_failures.get(page)
                    failure = pending.pop(0) if pending else None
                    too_fast = self._too_fast()
                if failure or too_fast:
                    return self._fail(failure or 429)
                if not self._token_valid():
                    return self._reply(401, b"")
                users = sorted(fake.users.values(), key=lambda u: u["userid"])
                users = [u for u in users if _matches(u, bounds, params.get("filter[userid][]"))]
                chunk = users[(page - 1) * size : page * size]
                if fake.list_without_fields:
                    chunk = [{k: v for k, v in u.items() if k != "_related"} for u in chunk]
                statistics = {"count": len(users)}
                if params.get("_returnIterable") == "true":
                    return self._reply(200, {"users": chunk, "statistics": statistics})
                return self._reply(200, {"statistics": statistics, **{str(u["userid"]): u for u in chunk}})

        return Handler


def _matches(user: dict, bounds: dict[str, date], user_ids: list[str] | None) -> bool:
    """The documented list filters: dates inclusive, compared as days (UTC)."""
    if user_ids is not None and str(user["userid"]) not in user_ids:
        return False
    for key, bound in bounds.items():
        field, _, edge = key.removeprefix("filter[").removesuffix("]").partition("][")
        if field not in ("joindate", "lastactivity"):
            continue
        day = datetime.fromtimestamp(user[field], tz=UTC).date()
        if (edge == "from" and day < bound) or (edge == "to" and day > bound):
            return False
    return True
