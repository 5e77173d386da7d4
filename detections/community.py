"""Client for the inSided (Gainsight Customer Communities) API: OAuth2 and user profiles.

Used by enrichment and the registration webhook (which carries no profile). Transient
failures are retried a bounded number of times here; callers decide what a final failure means.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.dateparse import parse_datetime
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

logger = logging.getLogger(__name__)

_TOKEN_CACHE_KEY = "community:oauth-token"  # noqa: S105 (a cache key, not a secret)
# Renew this long before the token's stated expiry, so no request goes out with a token
# that expires in flight.
_TOKEN_EXPIRY_MARGIN_SECONDS = 120


class CommunityError(Exception):
    """The community API could not give an answer (after retries)."""


class _TransientError(CommunityError):
    pass


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (_TransientError, requests.ConnectionError, requests.Timeout))


_retry = retry(
    retry=retry_if_exception(_is_transient),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=0.5, min=0.5, max=4),
    reraise=True,
)


@dataclass(frozen=True)
class CommunityProfile:
    user_id: str
    username: str
    job_title: str | None
    country: str
    company: str
    joined_at: datetime | None

    def attributes(self) -> dict:
        """The member attributes the profile has (country, company, joined_at), blanks left out."""
        attributes = {"country": self.country, "company": self.company, "joined_at": self.joined_at}
        return {name: value for name, value in attributes.items() if value}


def community_configured() -> bool:
    return bool(settings.COMMUNITY_API_URL and settings.COMMUNITY_CLIENT_ID and settings.COMMUNITY_CLIENT_SECRET)


class CommunityClient:
    def __init__(self, *, base_url: str | None = None, session: requests.Session | None = None) -> None:
        self.base_url = (base_url or settings.COMMUNITY_API_URL).rstrip("/")
        self.session = session or requests.Session()
        self.timeout = settings.COMMUNITY_API_TIMEOUT_SECONDS

    # --- OAuth2 client credentials ------------------------------------------------------
    def _token(self, *, refresh: bool = False) -> str:
        if not refresh:
            token = cache.get(_TOKEN_CACHE_KEY)
            if token:
                return token
        token, expires_in = self._request_token()
        cache.set(_TOKEN_CACHE_KEY, token, timeout=max(expires_in - _TOKEN_EXPIRY_MARGIN_SECONDS, 1))
        return token

    @_retry
    def _request_token(self) -> tuple[str, int]:
        response = self.session.post(
            f"{self.base_url}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.COMMUNITY_CLIENT_ID,
                "client_secret": settings.COMMUNITY_CLIENT_SECRET,
                "scope": "read",
            },
            timeout=self.timeout,
        )
        self._raise_for_status(response, "token request")
        try:
            body = response.json()
            return str(body["access_token"]), int(body.get("expires_in", 7200))
        except (ValueError, KeyError, TypeError) as exc:
            raise CommunityError(f"token reply without access_token: {response.text[:200]!r}") from exc

    # --- Users --------------------------------------------------------------------------
    def user_get(self, user_id: str) -> dict:
        """GET /api1/user/{id}."""
        body = self._get(f"/api1/user/{requests.utils.quote(str(user_id), safe='')}", {}, f"user {user_id}")
        if not isinstance(body, dict):
            raise CommunityError(f"user {user_id}: reply is not a JSON object")
        return body

    def users_page(self, *, page: int, page_size: int, filters: dict[str, str] | None = None) -> list[dict]:
        """One page of GET /api1/user (the member list), with the caller's filters passed through.

        The list's parameter names and reply shape are not publicly documented: the paging
        parameters are settings, and the users are read from a bare list or from the first
        list under a usual key (result, results, data, users, items).
        """
        params = {
            settings.COMMUNITY_USERS_PAGE_PARAM: page,
            settings.COMMUNITY_USERS_PAGE_SIZE_PARAM: page_size,
            **(filters or {}),
        }
        body = self._get("/api1/user", params, f"user list page {page}")
        users = (
            body
            if isinstance(body, list)
            else next(
                (body[key] for key in _LIST_KEYS if isinstance(body, dict) and isinstance(body.get(key), list)), None
            )
        )
        if users is None:
            raise CommunityError(f"user list page {page}: no list of users in the reply")
        return [user for user in users if isinstance(user, dict)]

    def _get(self, path: str, params: dict, what: str):
        """GET with the bearer token; on a 401 the token is renewed once (it may have been revoked)."""
        try:
            return self._get_once(path, params, what, self._token())
        except _Unauthorized:
            return self._get_once(path, params, what, self._token(refresh=True))

    @_retry
    def _get_once(self, path: str, params: dict, what: str, token: str):
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

    @staticmethod
    def _raise_for_status(response: requests.Response, what: str) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise _TransientError(f"{what}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise CommunityError(f"{what}: HTTP {response.status_code}")


class _Unauthorized(CommunityError):
    pass


_LIST_KEYS = ("result", "results", "data", "users", "items")


# --- Mapping the undocumented user reply to profile fields -----------------------------------
_FIELD_LIST_KEYS = ("profile_fields", "profileFields", "custom_fields", "customFields", "fields", "profile")
_FIELD_NAME_KEYS = ("name", "label", "title", "key", "fieldName", "field")


def _squash(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def profile_field(user: dict, name: str):
    """Find a profile field by name: in custom/profile field lists or dicts, then top level.

    Names compare case- and punctuation-insensitively ("Job Title" = "job_title" = "jobTitle").
    """
    wanted = _squash(name)
    for list_key in _FIELD_LIST_KEYS:
        container = user.get(list_key)
        if isinstance(container, dict):
            for key, value in container.items():
                if _squash(str(key)) == wanted:
                    return value.get("value") if isinstance(value, dict) else value
        elif isinstance(container, list):
            for item in container:
                if not isinstance(item, dict):
                    continue
                if any(_squash(str(item.get(k, ""))) == wanted for k in _FIELD_NAME_KEYS):
                    return item.get("value")
    for key, value in user.items():
        if _squash(str(key)) == wanted and not isinstance(value, (dict, list)):
            return value
    return None


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def profile_from_user(user: dict, *, user_id: str) -> CommunityProfile:
    joined_raw = profile_field(user, settings.COMMUNITY_FIELD_JOINED_AT)
    try:
        joined_at = parse_datetime(joined_raw) if isinstance(joined_raw, str) else None
    except ValueError:
        joined_at = None
    title = profile_field(user, settings.COMMUNITY_FIELD_JOB_TITLE)
    return CommunityProfile(
        user_id=str(user_id),
        username=_text(profile_field(user, "username")),
        job_title=title if isinstance(title, str) else None,
        country=_text(profile_field(user, settings.COMMUNITY_FIELD_COUNTRY)),
        company=_text(profile_field(user, settings.COMMUNITY_FIELD_COMPANY)),
        joined_at=joined_at,
    )
