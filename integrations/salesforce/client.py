"""Client for Salesforce's REST API, as the CRM hand-off uses it: a token by the OAuth 2.0 client
credentials flow, SOQL queries, and record creation.

Built from the REST API Developer Guide (developer.salesforce.com, `api_rest`) and the SOQL and
SOSL Reference. Where they are silent the code says so and fails loudly rather than guess: an
answer the documentation does not describe is an error, never a success.

The client does not retry on its own, except once after a 401 with a renewed token: a failed call
raises one of the typed errors in `errors`, and the caller (a Celery task with its own schedule)
decides when to try again. Settings are read when used, with `getattr` and a default, so importing
this module needs none of them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache

from .errors import (
    SalesforceAuthError,
    SalesforceError,
    SalesforceLimitExceeded,
    SalesforceRejected,
    SalesforceUnavailable,
)

logger = logging.getLogger(__name__)

DEFAULT_API_VERSION = "v62.0"
DEFAULT_TIMEOUT_SECONDS = 10.0

_TOKEN_CACHE_PREFIX = "salesforce:token"  # noqa: S105 (a cache key, not a secret)
# While one worker asks for a token, the others poll the cache this often rather than ask too.
_RENEWAL_POLL_SECONDS = 0.05
_SOBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# `api-usage=25/15000`, alone or among other entries (`api-usage=25/15000; api-bursts=1/750`);
# not the `per-app-api-usage=17/250(appName=...)` of the pilot app quotas.
_API_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")
# SOQL string-literal escapes (SOQL and SOSL Reference, "Quoted String Escape Sequences").
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _setting(name: str, default=None):
    return getattr(settings, name, default) or default


def salesforce_configured() -> bool:
    """The login URL, client id and client secret are all set."""
    return bool(
        _setting("SALESFORCE_LOGIN_URL") and _setting("SALESFORCE_CLIENT_ID") and _setting("SALESFORCE_CLIENT_SECRET")
    )


def _token_cache_key() -> str:
    """One cached token per org and connected app, shared by every worker through the cache
    (Redis). The login URL and client id are in the key, so a changed setting never reuses the
    token of another org or app."""
    identity = f"{_login_url()}\n{_setting('SALESFORCE_CLIENT_ID', '')}".encode()
    return f"{_TOKEN_CACHE_PREFIX}:{hashlib.sha256(identity).hexdigest()[:16]}"


def salesforce_token_forget() -> None:
    """Drop the cached token (after rotating the connected app's secret, or in tests): the next
    call asks for a new one."""
    cache.delete(_token_cache_key())


def _login_url() -> str:
    return str(_setting("SALESFORCE_LOGIN_URL", "")).rstrip("/")


@dataclass(frozen=True)
class ApiUsage:
    """The org's API requests in the rolling 24 hours, from `Sforce-Limit-Info: api-usage=used/limit`."""

    used: int
    limit: int

    @property
    def share(self) -> float:
        """used / limit: 0.9 means nine tenths of the day's requests are gone (0 when limit is 0)."""
        return self.used / self.limit if self.limit else 0.0


def api_usage_parse(header: str | None) -> ApiUsage | None:
    """The `api-usage` entry of a `Sforce-Limit-Info` header ("api-usage=25/15000"); None when the
    header is absent or holds no readable entry."""
    match = _API_USAGE.search(header or "")
    if match is None:
        return None
    return ApiUsage(used=int(match[1]), limit=int(match[2]))


def soql_quote(value: str) -> str:
    """`value` as a SOQL string literal: in single quotes, with `\\` and `'` escaped by a backslash
    (the two reserved characters), and newline, carriage return, tab and form feed as their
    documented escapes. Other control characters become the documented `\\uXXXX`: the
    documentation does not say whether a raw one may stand in a literal, and `\\b` is documented as
    "bell" in one place and backspace elsewhere, so neither is left to chance.

    For `=`, `!=` and `IN` comparisons. In a LIKE pattern, `%` and `_` stay wildcards: escaping them
    (`\\%`, `\\_`) is valid only in LIKE, so this function leaves them as they are.
    """
    if not isinstance(value, str):
        raise TypeError(f"soql_quote takes a str, not {type(value).__name__}")
    escaped = "".join(
        _SOQL_ESCAPES.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x20 else char) for char in value
    )
    return f"'{escaped}'"


def task_url(task_id: str) -> str | None:
    """The classic link to a record, `{instance_url}/{id}` (Lightning Experience redirects it to the
    record's Lightning page). The instance URL is the one the cached token came with: None when no
    token has been had yet (or it was dropped after a 401 and not yet renewed), so a caller that
    needs the link makes a call first, or shows the id alone."""
    token = cache.get(_token_cache_key())
    if not token:
        return None
    return f"{token['instance_url'].rstrip('/')}/{quote(str(task_id), safe='')}"


class SalesforceClient:
    """Calls to one org's REST API with the cached token.

    `last_usage`: the org's API usage from the `Sforce-Limit-Info` header of the latest reply that
    carried one (every REST reply does, error replies too; a reply without it, such as a proxy's
    error page, keeps the previous reading). None before the first reply.
    """

    def __init__(self, *, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()
        self.last_usage: ApiUsage | None = None

    @property
    def api_version(self) -> str:
        return str(_setting("SALESFORCE_API_VERSION", DEFAULT_API_VERSION))

    @property
    def timeout(self) -> float:
        return float(_setting("SALESFORCE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))

    # --- Records ---------------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict]:
        """Every record a SOQL query selects, each as Salesforce sends it (its `attributes` and the
        selected fields). GET `/query?q=`, then, while `done` is false, GET the `nextRecordsUrl` it
        gives (a batch holds up to 2,000 records, and may hold fewer). Build literals with
        `soql_quote`."""
        what = "query"
        body = self._query_batch(f"/services/data/{self.api_version}/query", {"q": soql}, what)
        records = list(body["records"])
        while not body["done"]:
            next_url = body.get("nextRecordsUrl")
            # A relative path on the same instance, as documented: the bearer token goes nowhere else.
            if not isinstance(next_url, str) or not next_url.startswith("/services/data/"):
                raise SalesforceUnavailable(
                    f"{what}: done is false without a relative nextRecordsUrl ({next_url!r})", status=200
                )
            body = self._query_batch(next_url, None, what)
            if not body["records"] and not body["done"]:
                # Not documented; following it could loop for ever.
                raise SalesforceUnavailable(f"{what}: an empty batch that is not the last ({next_url})", status=200)
            records.extend(body["records"])
        return records

    def create(self, sobject: str, fields: dict) -> str:
        """Create a record: POST `/sobjects/{sobject}/` with the fields as JSON; returns the new id
        from the documented 201 `{"id", "success": true, "errors": []}`.

        POST has no idempotency key. SalesforceUnavailable from here (a timeout, a cut connection)
        does not mean that no record was made: the answer may have been lost after Salesforce made
        it. Before creating again, look for the record by an identifier of your own (the hand-off
        writes `CaptPathfinder_Handoff_Key__c` and queries it).
        """
        if not _SOBJECT_NAME.match(sobject):
            raise ValueError(f"not an sObject API name: {sobject!r}")
        what = f"create {sobject}"
        response = self._call("POST", f"/services/data/{self.api_version}/sobjects/{sobject}/", what, json=fields)
        body = _json_of(response)
        record_id = body.get("id") if isinstance(body, dict) else None
        if (
            response.status_code != 201
            or not isinstance(body, dict)
            or body.get("success") is not True
            or not isinstance(record_id, str)
            or not record_id
        ):
            raise SalesforceUnavailable(
                f'{what}: HTTP {response.status_code}, not the documented 201 {{"id", "success": true}}: '
                f"{_body_text(response)}",
                status=response.status_code,
                errors=_errors_of(response),
            )
        return record_id

    def task_url(self, task_id: str) -> str | None:
        """See the module's `task_url`."""
        return task_url(task_id)

    def _query_batch(self, path: str, params: dict | None, what: str) -> dict:
        response = self._call("GET", path, what, params=params)
        body = _json_of(response)
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("records"), list)
            or not all(isinstance(record, dict) for record in body["records"])
            or not isinstance(body.get("done"), bool)
        ):
            raise SalesforceUnavailable(
                f'{what}: HTTP {response.status_code}, not the documented 200 {{"totalSize", "done", "records"}}: '
                f"{_body_text(response)}",
                status=response.status_code,
            )
        return body

    # --- Calls with the token --------------------------------------------------------------------
    def _call(
        self, method: str, path: str, what: str, *, params: dict | None = None, json: dict | None = None
    ) -> requests.Response:
        """One REST call; on a 401 the token is renewed and the call sent once more. Salesforce states
        no lifetime for a token (the org's session settings decide it), so a 401 is the only sign it
        expired or was revoked; the refused call did nothing, so sending it again (a create too)
        makes nothing twice."""
        token = self._token()
        response = self._send(method, token, path, what, params=params, json=json)
        if response.status_code == 401:
            logger.info("salesforce: %s answered 401 (%s); renewing the token", what, _error_text(response))
            self._token_drop(token)
            token = self._token()
            response = self._send(method, token, path, what, params=params, json=json)
            if response.status_code == 401:
                raise SalesforceAuthError(
                    f"{what}: HTTP 401 again with a new token: {_error_text(response)}",
                    status=401,
                    errors=_errors_of(response),
                )
        _raise_for_status(response, what)
        return response

    def _send(
        self, method: str, token: dict, path: str, what: str, *, params: dict | None, json: dict | None
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                f"{token['instance_url'].rstrip('/')}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,  # a redirect would turn a POST into a GET, or carry the token elsewhere
            )
        except requests.RequestException as exc:  # timeouts, refused or cut connections
            raise SalesforceUnavailable(f"{what}: no answer ({type(exc).__name__}: {exc})") from exc
        usage = api_usage_parse(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.last_usage = usage
        return response

    # --- The token (OAuth 2.0 client credentials) ------------------------------------------------
    def _token(self) -> dict:
        """The cached `{"access_token", "instance_url"}`, or a new one. One worker at a time asks
        for a token (a lock in the cache, which Redis takes atomically); the others wait for it to
        appear, so a burst of calls on every worker makes one token request."""
        key = _token_cache_key()
        token = cache.get(key)
        if token:
            return token
        lock_key, lock_id = f"{key}:renewing", uuid.uuid4().hex
        # A holder that died frees the lock when it expires: a token request takes at most the
        # connect and the read timeout.
        lock_seconds = math.ceil(2 * self.timeout) + 5
        deadline = time.monotonic() + 2 * lock_seconds
        while True:
            if cache.add(lock_key, lock_id, timeout=lock_seconds):
                try:
                    token = cache.get(key)  # another worker may have just set it
                    if not token:
                        token = self._token_request()
                        # No expiry: the reply states none (see _call).
                        cache.set(key, token, timeout=None)
                    return token
                finally:
                    if cache.get(lock_key) == lock_id:
                        cache.delete(lock_key)
            time.sleep(_RENEWAL_POLL_SECONDS)
            token = cache.get(key)
            if token:
                return token
            if time.monotonic() > deadline:
                raise SalesforceUnavailable("token request: another worker's request for a token did not finish")

    def _token_drop(self, failed: dict) -> None:
        """Drop the cached token if it is still the one that failed: a token another worker already
        renewed stays. (Compare, then delete: two steps, so at worst a token renewed in between is
        dropped too, which costs one more token request.)"""
        key = _token_cache_key()
        cached = cache.get(key)
        if cached and cached.get("access_token") == failed["access_token"]:
            cache.delete(key)

    def _token_request(self) -> dict:
        what = "token request"
        login_url = _login_url()
        client_id, client_secret = _setting("SALESFORCE_CLIENT_ID"), _setting("SALESFORCE_CLIENT_SECRET")
        if not (login_url and client_id and client_secret):
            raise SalesforceAuthError(
                "Salesforce is not configured: SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID and "
                "SALESFORCE_CLIENT_SECRET are all needed"
            )
        parts = urlsplit(login_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise SalesforceAuthError(
                f"SALESFORCE_LOGIN_URL {login_url!r} is not a URL (https://<MyDomain>.my.salesforce.com)"
            )
        try:
            response = self.session.post(
                f"{login_url}/services/oauth2/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise SalesforceUnavailable(f"{what}: no answer ({type(exc).__name__}: {exc})") from exc
        status = response.status_code
        if status >= 500:
            raise SalesforceUnavailable(f"{what}: HTTP {status}: {_body_text(response)}", status=status)
        if 300 <= status < 400:
            # Not documented for this endpoint: the login URL is not the org's My Domain URL.
            raise SalesforceAuthError(
                f"{what}: HTTP {status} to {response.headers.get('Location')!r}: set SALESFORCE_LOGIN_URL to the "
                "org's My Domain URL",
                status=status,
            )
        if status >= 400:
            # 400 (and 401) carry OAuth's `{"error", "error_description"}`; another 4xx is not
            # documented here, and the settings are its likely cause too.
            raise SalesforceAuthError(f"{what}: HTTP {status}: {_oauth_error_text(response)}", status=status)
        body = _json_of(response)
        token, instance_url = (
            (body.get("access_token"), body.get("instance_url")) if isinstance(body, dict) else (None, None)
        )
        if (
            status != 200
            or not isinstance(token, str)
            or not token
            or not isinstance(instance_url, str)
            or urlsplit(instance_url).scheme not in ("https", "http")
        ):
            raise SalesforceUnavailable(
                f'{what}: HTTP {status}, not the documented 200 {{"access_token", "instance_url", ...}}: '
                f"{_body_text(response)}",
                status=status,
            )
        logger.info("salesforce: new token for %s", instance_url)
        return {"access_token": token, "instance_url": instance_url}


def _raise_for_status(response: requests.Response, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    errors = _errors_of(response)
    message = f"{what}: HTTP {status}: {_error_text(response)}"
    if status >= 500:
        raise SalesforceUnavailable(message, status=status, errors=errors)
    if status == 429:
        # Not a status Salesforce documents for REST (its limits answer 403); a proxy's "try later".
        raise SalesforceUnavailable(message, status=status, errors=errors)
    if status == 403 and any(error["errorCode"] == "REQUEST_LIMIT_EXCEEDED" for error in errors):
        raise SalesforceLimitExceeded(message, status=status, errors=errors)
    if 400 <= status < 500:
        raise SalesforceRejected(message, status=status, errors=errors)
    # 1xx and 3xx: 300 answers an upsert whose external id matches several records, which this
    # client does not send; any other is not documented for these calls.
    raise SalesforceError(f"{message} (not a documented answer to this call)", status=status, errors=errors)


def _json_of(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _errors_of(response: requests.Response) -> list[dict]:
    """The documented error list, `[{"message", "errorCode", "fields"}]`, each entry in that shape
    (`fields` is often left out, or null); [] when the body is not one."""
    body = _json_of(response)
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) and "errorCode" in body else []
    errors = []
    for item in items:
        if not isinstance(item, dict):
            continue
        fields = item.get("fields")
        errors.append(
            {
                "message": str(item.get("message") or ""),
                "errorCode": str(item.get("errorCode") or ""),
                "fields": [str(field) for field in fields] if isinstance(fields, list) else [],
            }
        )
    return errors


def _error_text(response: requests.Response) -> str:
    """Every error of the list, whole: "CODE: message (fields: A, B)"; the body itself when it is
    not the documented list."""
    errors = _errors_of(response)
    if not errors:
        return _body_text(response)
    return "; ".join(
        f"{error['errorCode']}: {error['message']}"
        + (f" (fields: {', '.join(error['fields'])})" if error["fields"] else "")
        for error in errors
    )


def _oauth_error_text(response: requests.Response) -> str:
    body = _json_of(response)
    if isinstance(body, dict) and ("error" in body or "error_description" in body):
        return f"{body.get('error')}: {body.get('error_description')}"
    return _body_text(response)


def _body_text(response: requests.Response) -> str:
    # An undocumented body is often a proxy's HTML page: enough of it to recognise, not all of it.
    return response.text[:2000] or "(no body)"
