"""Client for the inSided (Gainsight Customer Communities) API: OAuth2, user profiles, roles and badges.

Speaks the published User API (version 20260811093422): `POST /oauth2/token` (client
credentials), `GET /user/{id}` and the member list `GET /user`, used by enrichment, the
registration webhook (which carries no profile) and backfills; and, with a token of the `write`
scope, the role and badge endpoints the write-back uses. Transient failures (5xx, and 429, which
inSided does not document but a proxy may send) are retried a bounded number of times here;
callers decide what a final failure means (the typed errors are in `errors`). The replies are
read into our terms by `profiles`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from core.rates import RateLimiter

from .errors import CommunityError, CommunityNotFound, CommunityUnavailable
from .profiles import CommunityProfile, profile_from_user, user_id_of, user_id_problem

logger = logging.getLogger(__name__)
T = TypeVar("T")

_TOKEN_CACHE_KEY = "community:oauth-token"  # noqa: S105 (a cache key, not a secret)
# Renew this long before the token's stated expiry, so no request goes out with a token
# that expires in flight.
_TOKEN_EXPIRY_MARGIN_SECONDS = 120


# Worth trying again later: the community unavailable (5xx, 429) or not reached (a refused or cut
# connection, a timeout; these stay requests' own errors). The quick retries below use it, and so do
# callers that decide whether a final failure waits for a later attempt or is recorded.
TRANSIENT_ERRORS = (CommunityUnavailable, requests.ConnectionError, requests.Timeout)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


_retry = retry(
    retry=retry_if_exception(_is_transient),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, min=0.5, max=4),
    reraise=True,
)


def community_configured() -> bool:
    return bool(settings.COMMUNITY_API_URL and settings.COMMUNITY_CLIENT_ID and settings.COMMUNITY_CLIENT_SECRET)


class CommunityClient:
    """`limiter`: waited on before every request (token requests aside), retries included."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = (base_url or settings.COMMUNITY_API_URL).rstrip("/")
        self.session = session or requests.Session()
        self.timeout = settings.COMMUNITY_API_TIMEOUT_SECONDS
        self.limiter = limiter

    # --- OAuth2 client credentials ------------------------------------------------------
    def _token(self, *, refresh: bool = False, scope: str = "read") -> str:
        """A bearer token of `scope` ("read", or "write" for changes), cached until shortly before it expires."""
        key = f"{_TOKEN_CACHE_KEY}:{scope}"
        if not refresh:
            token = cache.get(key)
            if token:
                return token
        token, expires_in = self._request_token(scope)
        cache.set(key, token, timeout=max(expires_in - _TOKEN_EXPIRY_MARGIN_SECONDS, 1))
        return token

    @_retry
    def _request_token(self, scope: str) -> tuple[str, int]:
        response = self.session.post(
            f"{self.base_url}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.COMMUNITY_CLIENT_ID,
                "client_secret": settings.COMMUNITY_CLIENT_SECRET,
                "scope": scope,
            },
            timeout=self.timeout,
        )
        if response.status_code == 404:  # not a missing user: the URL is wrong
            raise CommunityError("token request: HTTP 404 (is COMMUNITY_API_URL the community API's base URL?)")
        self._raise_for_status(response, "token request")
        try:
            body = response.json()
            return str(body["access_token"]), int(body.get("expires_in", 7200))
        except (ValueError, KeyError, TypeError) as exc:
            raise CommunityError(f"token reply without access_token: {response.text[:200]!r}") from exc

    # --- Users ---------------------------------------------------------------------------
    def user_get(self, user_id: str) -> dict:
        """GET /user/{id}: one member, a `User` of the User API."""
        body = self._get(f"/user/{_quoted(user_id)}", {}, f"user {user_id}")
        if not isinstance(body, dict):
            raise CommunityError(f"user {user_id}: reply is not a JSON object")
        return body

    def users_page(self, *, page: int, page_size: int, filters: Mapping[str, str] | None = None) -> UsersPage:
        """One page of GET /user, the member list, as the iterable reply
        `{"users": [User, ...], "statistics": {"count": N}}` (`_returnIterable=true`; without it the
        users are properties of an object). `filters` are the documented `filter[...]` parameters.
        The largest page size is not documented: paging goes on until a page is empty or the
        statistics' count is reached, so a server that answers smaller pages loses nobody.
        """
        params = {"page": page, "pageSize": page_size, "_returnIterable": "true", **(filters or {})}
        body = self._get("/user", params, f"user list page {page}")
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list):
            raise CommunityError(f"user list page {page}: no 'users' list in the reply (asked _returnIterable=true)")
        statistics = body.get("statistics")
        count = statistics.get("count") if isinstance(statistics, dict) else None
        return UsersPage(
            users=[user for user in users if isinstance(user, dict)],
            count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        )

    def _authorized(self, scope: str, call: Callable[[str], T]) -> T:
        """`call(token)` with a bearer token of `scope`; on a 401 the token is renewed once (it may
        have been revoked)."""
        try:
            return call(self._token(scope=scope))
        except _Unauthorized:
            return call(self._token(refresh=True, scope=scope))

    def _get(self, path: str, params: dict, what: str):
        return self._authorized("read", lambda token: self._get_once(path, params, what, token))

    @_retry
    def _get_once(self, path: str, params: dict, what: str, token: str):
        if self.limiter is not None:
            self.limiter.wait()
        response = self.session.get(
            f"{self.base_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code == 401:
            raise _Unauthorized("community API refused the token")
        self._raise_for_status(response, what)
        try:
            return response.json()
        except ValueError as exc:
            raise CommunityError(f"{what}: reply is not JSON") from exc

    def profile_get(self, user_id: str) -> CommunityProfile:
        return profile_from_user(self.user_get(user_id), user_id=user_id)

    def users_pages(
        self, *, filters: Mapping[str, str], page_size: int, start_page: int = 1
    ) -> Iterator[tuple[int, list[dict]]]:
        """(page number, its users) for each page of the member list from `start_page`, until an empty
        page or, from the first page, the list's count (when resuming, the users before are not known:
        a server may have answered smaller pages than asked)."""
        page, seen = start_page, 0 if start_page == 1 else None
        while True:
            listed = self.users_page(page=page, page_size=page_size, filters=filters)
            if not listed.users:
                return
            yield page, listed.users
            seen = None if seen is None else seen + len(listed.users)
            if listed.count is not None and seen is not None and seen >= listed.count:
                return
            page += 1

    def users_holding(self, filters: Mapping[str, str], *, page_size: int) -> Iterator[str]:
        """The user ids of every member the list returns with `filters` (e.g.
        `{"filter[roles.rolename][]": "roles.Executives"}`). A member without a userid, or with one
        outside the safe set the service keeps (profiles.user_id_problem), is an error: it cannot be
        left out unseen."""
        for page, users in self.users_pages(filters=filters, page_size=page_size):
            for user in users:
                user_id = user_id_of(user)
                if user_id is None:
                    raise CommunityError(f"user list page {page}: a user without a userid")
                if problem := user_id_problem(user_id):
                    raise CommunityError(f"user list page {page}: userid {user_id[:80]!r} {problem}")
                yield user_id

    # --- Roles and badges (the `write` scope) ---------------------------------------------
    def role_add(self, user_id: str, role: str) -> None:
        """POST /user/{id}/role `{"data": {"user_role": [role]}}`: 200 with the text "Done".
        What adding a role the member holds already answers is not documented; the write-back
        asks only for a role the list says the member lacks, or after a change of theirs."""
        self._write(
            "POST",
            f"/user/{_quoted(user_id)}/role",
            f"role {role!r} for user {user_id}",
            {200},
            json={"data": {"user_role": [role]}},
        )

    def role_revoke(self, user_id: str, role: str) -> None:
        """DELETE /user/{userId}/role/{roleName}: 204; 404 (no such user or role: the
        documentation does not say which) and 422 (a validation error, e.g. not a custom role) are
        errors."""
        what = f"revoke role {role!r} of user {user_id}"
        self._write("DELETE", f"/user/{_quoted(user_id)}/role/{_quoted(role)}", what, {204})

    def badge_award(self, user_id: str, badge_id: str) -> bool:
        """PUT /user/{userId}/badge/{badgeId}: 201 awarded, 204 the member had it (returns False)."""
        what = f"badge {badge_id} for user {user_id}"
        status = self._write("PUT", f"/user/{_quoted(user_id)}/badge/{_quoted(badge_id)}", what, {201, 204})
        return status == 201

    def badge_revoke(self, user_id: str, badge_id: str) -> bool:
        """DELETE /user/{userId}/badge/{badgeId}: 204 revoked; 400 the member did not have it
        (returns False); 404 no such user or badge."""
        what = f"revoke badge {badge_id} of user {user_id}"
        try:
            self._write("DELETE", f"/user/{_quoted(user_id)}/badge/{_quoted(badge_id)}", what, {204})
        except _BadRequest:
            return False
        return True

    def _write(self, method: str, path: str, what: str, documented: set[int], *, json: dict | None = None) -> int:
        """A change with the `write` token. Returns the status,
        one of the `documented` successes: any other answer (a redirect, which would turn the
        change into a GET, or an undocumented 2xx) is an error, not a success."""
        return self._authorized("write", lambda token: self._write_once(method, path, what, documented, json, token))

    @_retry
    def _write_once(
        self, method: str, path: str, what: str, documented: set[int], json: dict | None, token: str
    ) -> int:
        if self.limiter is not None:
            self.limiter.wait()
        response = self.session.request(
            method,
            f"{self.base_url}{path}",
            json=json,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self.timeout,
            allow_redirects=False,
        )
        if response.status_code == 401:
            raise _Unauthorized("community API refused the token")
        if response.status_code == 404:
            raise CommunityNotFound(f"{what}: HTTP 404 (no such user, or no such role or badge)")
        if response.status_code == 400:
            raise _BadRequest(f"{what}: HTTP 400")
        if response.status_code == 403:  # not documented; what a token without the scope would get
            scope = "(changes need credentials with the `write` scope)"
            raise CommunityError(f"{what}: HTTP 403{_message_of(response)} {scope}")
        self._raise_for_status(response, what)
        if response.status_code not in documented:
            expected = " or ".join(str(code) for code in sorted(documented))
            raise CommunityError(f"{what}: HTTP {response.status_code}, not the documented {expected}")
        return response.status_code

    @staticmethod
    def _raise_for_status(response: requests.Response, what: str) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise CommunityUnavailable(f"{what}: HTTP {response.status_code}{_message_of(response)}")
        if response.status_code == 404:
            raise CommunityNotFound(f"{what}: HTTP 404")
        if response.status_code >= 400:
            raise CommunityError(f"{what}: HTTP {response.status_code}{_message_of(response)}")


def _quoted(value: str) -> str:
    """One path segment, whatever it holds: "/" and ".." cannot reach another endpoint."""
    return quote(str(value), safe="")


def _message_of(response: requests.Response) -> str:
    """The documented error body's `message` (`{"message": "..."}`), for the operator; "" without one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {message[:300]}" if isinstance(message, str) and message else ""


class _BadRequest(CommunityError):
    pass


class _Unauthorized(CommunityError):
    pass


@dataclass(frozen=True)
class UsersPage:
    users: list[dict]
    count: int | None  # statistics.count: all users matching the filters


# The member list's documented filters (User API, GET /user), by the backfill's name for them.
USER_LIST_FILTERS = {
    "joined_from": "filter[joindate][from]",
    "joined_to": "filter[joindate][to]",
    "active_from": "filter[lastactivity][from]",
    "active_to": "filter[lastactivity][to]",
}
