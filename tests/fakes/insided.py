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

Roles and badges (the `write` scope), as the spec documents them:

- `POST /user/{id}/role` `{"data": {"user_role": ["roles.<name>"]}}`: 200 with the text "Done";
  404 for an unknown user or role;
- `DELETE /user/{userId}/role/{roleName}`: 204; 404; 422 (validation error, no body) for a main
  role such as `roles.registered`, which is not a custom role;
- `PUT /user/{userId}/badge/{badgeId}`: 201 awarded, 204 already held; 404 for an unknown user or badge;
- `DELETE /user/{userId}/badge/{badgeId}`: 204 revoked; 400 the user does not hold it; 404 for an
  unknown user or badge;
- the member list filters on `filter[roles.rolename][]` and `filter[badges.badgeid][]`.

Not documented, so chosen here and said so: the token endpoint's error bodies (OAuth2's
`{"error": ...}`), a 401 for an expired or revoked token (no body), 429, which inSided does not
publish (no rate limits are documented) but a proxy in front of it may send, a 403 for a change
made with a `read` token, what revoking a role the user does not hold answers (here 404, one of the
documented statuses), adding a role the user holds (here 200 "Done", unchanged), and the shape of
`_related.badges` items (the spec gives none: the fake keeps badge holders apart and lists none).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http import FakeServer, JSONHandler

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
            "roles": [_auth_item(user_id, "roles.registered", {"id": 3, "main": 1})],
        },
    }


def _auth_item(user_id: int, name: str, role: dict) -> dict:
    """One of a `User`'s `_related.roles`."""
    return {
        "auth_item_id": role["id"],
        "itemname": name,
        "userid": user_id,
        "bizrule": None,
        "data": None,
        "_related": {
            "items": {
                "id": role["id"],
                "name": name,
                "type": 2,
                "description": None,
                "bizrule": None,
                "data": None,
                "visible": 1,
                "main": role["main"],
                "order": role["id"],
                "exclude_for_spam_check": 0,
                "_related": [],
            }
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


class FakeInsided(FakeServer):
    client_id = "test-client"
    client_secret = "test-client-secret"

    def __init__(self, *, token_lifetime: int = 7200) -> None:
        self.token_lifetime = token_lifetime
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, tuple[float, str]] = {}  # token -> (expiry (monotonic), scope)
        # The community's roles by name (main: a main role, which cannot be revoked) and badges by id.
        self.roles: dict[str, dict] = {"roles.registered": {"id": 3, "main": 1}}
        self.badges: dict[int, dict] = {}
        self.badge_holders: dict[int, set[str]] = {}
        self.writes: list[tuple[str, str, int]] = []  # (method, path, status) of each write request
        self.write_failures: list[int] = []  # statuses to answer the next write requests with
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
        self._listen(self._handler())

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

    def add_role(self, name: str) -> None:
        """A custom role the community's admin created."""
        self.roles[name] = {"id": 10 + len(self.roles), "main": 0}

    def add_badge(self, badge_id: int, title: str = "Executive") -> None:
        self.badges[badge_id] = {"id": badge_id, "title": title}
        self.badge_holders.setdefault(badge_id, set())

    def roles_of(self, user_id) -> set[str]:
        return {r["itemname"] for r in self.users[str(user_id)]["_related"]["roles"]}

    def role_give(self, user_id, name: str) -> None:
        """Give a role directly (a community manager's doing)."""
        user = self.users[str(user_id)]
        if name not in self.roles_of(user_id):
            user["_related"]["roles"].append(_auth_item(user["userid"], name, self.roles[name]))

    def holders_of_badge(self, badge_id: int) -> set[str]:
        return set(self.badge_holders.get(badge_id, set()))

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def do_POST(self):
                if self.path != "/oauth2/token":
                    return self._write("POST")
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
                    fake.tokens[token] = (time.monotonic() + fake.token_lifetime, form.get("scope", "read"))
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

            def _token_valid(self, scope: str = "read") -> bool | None:
                """True: a valid token of the scope; None: valid, but of another scope; False: none."""
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake._lock:
                    expiry, granted = fake.tokens.get(token, (None, None))
                if expiry is None or expiry < time.monotonic():
                    return False
                return True if scope == "read" or granted == scope else None

            def do_PUT(self):
                return self._write("PUT")

            def do_DELETE(self):
                return self._write("DELETE")

            def _write(self, method: str) -> None:
                parts = [unquote(p) for p in urlsplit(self.path).path.removeprefix("/api1").strip("/").split("/")]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake._lock:
                    failure = fake.write_failures.pop(0) if fake.write_failures else None
                    too_fast = self._too_fast()
                status = self._write_status(method, parts, body, failure or (429 if too_fast else None))
                with fake._lock:
                    fake.writes.append((method, "/" + "/".join(parts), status))

            def _write_status(self, method: str, parts: list[str], body: bytes, failure: int | None) -> int:
                if failure:
                    self._fail(failure)
                    return failure
                if len(parts) < 3 or parts[0] != "user" or parts[2] not in ("role", "badge"):
                    self._reply(404, b"Not Found")  # no such endpoint
                    return 404
                valid = self._token_valid("write")
                if not valid:
                    status = 401 if valid is False else 403
                    self._reply(status, b"" if valid is False else {"message": "Forbidden"})
                    return status
                user = fake.users.get(parts[1])
                handler = {
                    ("POST", "role", 3): self._role_add,
                    ("DELETE", "role", 4): self._role_revoke,
                    ("PUT", "badge", 4): self._badge_award,
                    ("DELETE", "badge", 4): self._badge_revoke,
                }.get((method, parts[2], len(parts)))
                if handler is None or user is None:
                    self._reply(404, b"Not Found")
                    return 404
                return handler(user, parts, body)

            def _role_add(self, user: dict, parts: list[str], body: bytes) -> int:
                try:
                    names = json.loads(body)["data"]["user_role"]
                    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
                except (ValueError, KeyError, TypeError, AssertionError):
                    self._reply(500, {"message": "Internal Server Error"})  # a malformed body: not documented
                    return 500
                if any(name not in fake.roles for name in names):
                    self._reply(404, b"Not Found")
                    return 404
                with fake._lock:
                    for name in names:
                        fake.role_give(user["userid"], name)
                self._reply_text(200, b"Done")
                return 200

            def _role_revoke(self, user: dict, parts: list[str], body: bytes) -> int:
                name = parts[3]
                if fake.roles.get(name, {}).get("main"):
                    self._reply(422, b"")
                    return 422
                with fake._lock:
                    held = [r for r in user["_related"]["roles"] if r["itemname"] == name]
                    for role in held:
                        user["_related"]["roles"].remove(role)
                status = 204 if held else 404
                self._reply(status, b"" if held else b"Not Found")
                return status

            def _badge_award(self, user: dict, parts: list[str], body: bytes) -> int:
                return self._badge_change(user, parts, award=True)

            def _badge_revoke(self, user: dict, parts: list[str], body: bytes) -> int:
                return self._badge_change(user, parts, award=False)

            def _badge_change(self, user: dict, parts: list[str], *, award: bool) -> int:
                """Award: 201, or 204 when held. Revoke: 204, or 400 when not held. 404: no such badge."""
                badge_id = int(parts[3]) if parts[3].isdigit() else None
                if badge_id not in fake.badges:
                    self._reply(404, b"Not Found")
                    return 404
                with fake._lock:
                    holders = fake.badge_holders[badge_id]
                    held = parts[1] in holders
                    if award:
                        status = 204 if held else 201
                        holders.add(parts[1])
                    else:
                        status = 204 if held else 400
                        holders.discard(parts[1])
                    user["_related"]["badgesCount"] = sum(parts[1] in h for h in fake.badge_holders.values())
                self._reply(status, b"")
                return status

            def _reply_text(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

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
                if (roles := params.get("filter[roles.rolename][]")) is not None:
                    users = [u for u in users if {r["itemname"] for r in u["_related"]["roles"]} & set(roles)]
                if (badges := params.get("filter[badges.badgeid][]")) is not None:
                    wanted = {int(b) for b in badges if b.isdigit()}
                    holders = set().union(*(fake.badge_holders.get(b, set()) for b in wanted))
                    users = [u for u in users if str(u["userid"]) in holders]
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
