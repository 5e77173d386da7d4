"""Automation Anywhere Control Room client: authenticate, keep the token fresh, deploy bots,
and read how a bot run ended (a deployment id only says the run was queued).

Transient failures (connection errors, timeouts, 5xx, 429) get a few quick retries here; what
happens after that (the retry schedule across hours, the circuit breaker) is the caller's.

A deploy is not idempotent, and nothing documented finds a deploy whose reply was lost. The
Control Room takes no idempotency key, and its Activity List ("Activity List", Control Room API,
docs.automationanywhere.com) documents filters on automationId, deviceId, status and deploymentId
only: no filter on the automationName a deploy gave its run. The list items carry an
automationName, but the documentation never says it is the deploy's (its example's is made of
the bot's name, a time and a user), and a v3 deploy sends none. So a deploy whose reply never arrived (a
worker killed after the Control Room accepted it, a read timeout then a quick retry) cannot be
looked up by its name before it is tried again: it may run twice. This client asks the Activity
List only by deploymentId, and no undocumented filter is tried.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from tenacity import retry, retry_if_exception_type

from core.metrics import AA_CALL_SECONDS, timed

logger = logging.getLogger(__name__)

_TOKEN_KEY = "aa:control-room-token"  # noqa: S105 (a cache key)
# Tokens live about 20 minutes. Refresh when older than this; never use one older than the hard limit.
_TOKEN_REFRESH_AFTER_SECONDS = 15 * 60
_TOKEN_MAX_AGE_SECONDS = 19 * 60


class ControlRoomError(Exception):
    """The Control Room did not deploy the bot; the message says why."""


class TransientControlRoomError(ControlRoomError):
    """Worth retrying: network trouble, a timeout, 5xx or 429, or a reply we could not read."""


class _Unauthorized(ControlRoomError):
    pass


# Activity statuses (Control Room "Activity List" / "Request bot progress"): the run completed, or
# it ended without doing its work. Any other status — DEPLOYED, RUNNING, UPDATE, RUN_PAUSED,
# QUEUED, UNKNOWN, or one not documented — is not final: the delivery stays deployed.
RUN_COMPLETED = "COMPLETED"
RUN_FAILED = frozenset({"DEPLOY_FAILED", "RUN_FAILED", "RUN_ABORTED", "RUN_TIMED_OUT"})


@dataclass(frozen=True)
class RunReport:
    status: str
    message: str = ""
    progress: object = None
    ended: object = None

    @property
    def completed(self) -> bool:
        return self.status == RUN_COMPLETED

    @property
    def failed(self) -> bool:
        return self.status in RUN_FAILED

    def describe(self) -> str:
        return f"bot run {self.status}" + (f": {self.message}" if self.message else "")


def _run_report(run: dict) -> RunReport:
    status = run.get("status")
    if not isinstance(status, str) or not status:
        raise TransientControlRoomError(f"activity without a status: {str(run)[:200]}")
    # The documented list item shows no error text; a message is kept when a Control Room sends one.
    message = next((run[key] for key in ("message", "error", "errorMessage") if isinstance(run.get(key), str)), "")
    return RunReport(status=status, message=message, progress=run.get("progress"), ended=run.get("endDateTime"))


@dataclass(frozen=True)
class _Token:
    value: str
    issued_at: float


def _quick_wait(retry_state) -> float:
    """Exponential backoff between the quick retries, read from settings at call time."""
    return min(settings.AA_QUICK_RETRY_WAIT_SECONDS * 2 ** (retry_state.attempt_number - 1), 8.0)


def _quick_stop(retry_state) -> bool:
    return retry_state.attempt_number >= settings.AA_QUICK_RETRIES


_quick_retry = retry(
    retry=retry_if_exception_type(TransientControlRoomError),
    stop=_quick_stop,
    wait=_quick_wait,
    reraise=True,
)


def string_inputs(values: dict[str, str]) -> dict:
    """botInput: each input variable as {"type": "STRING", "string": value}."""
    return {name: {"type": "STRING", "string": value} for name, value in values.items()}


class ControlRoomClient:
    def __init__(self, *, base_url: str | None = None, session: requests.Session | None = None) -> None:
        self.base_url = (base_url or settings.AA_CONTROL_ROOM_URL).rstrip("/")
        self.session = session or requests.Session()
        self.timeout = settings.AA_TIMEOUT_SECONDS

    # --- authentication -------------------------------------------------------------------
    def _token(self, *, renew: bool = False) -> str:
        token: _Token | None = None if renew else cache.get(_TOKEN_KEY)
        age = time.time() - token.issued_at if token else None
        if token and age < _TOKEN_REFRESH_AFTER_SECONDS:
            return token.value
        if token and age < _TOKEN_MAX_AGE_SECONDS:
            try:
                refresh = self._post_for_token("/v1/authentication/token", {"token": token.value}, token=token.value)
                return self._store(refresh)
            except ControlRoomError as exc:
                logger.info("Control Room token refresh failed (%s); authenticating again", exc)
        payload = {"username": settings.AA_USERNAME, "apiKey": settings.AA_API_KEY}
        return self._store(self._post_for_token("/v1/authentication", payload))

    @staticmethod
    def _store(value: str) -> str:
        cache.set(_TOKEN_KEY, _Token(value, time.time()), timeout=_TOKEN_MAX_AGE_SECONDS)
        return value

    @_quick_retry
    def _post_for_token(self, path: str, payload: dict, *, token: str | None = None) -> str:
        """Authenticate, or refresh (the documented refresh also carries the token as X-Authorization)."""
        try:
            response = self._post(path, payload, token=token)
        except _Unauthorized as exc:
            raise ControlRoomError(str(exc)) from None
        body = self._json(response, "authentication")
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise TransientControlRoomError("authentication reply has no token")
        return token

    # --- deploying ----------------------------------------------------------------------------
    def deploy(self, *, bot_id: int, automation_name: str, inputs: dict[str, str]) -> str:
        """Run a bot with string inputs; returns the deployment id. Not idempotent: a reply lost
        after the Control Room accepted the deploy leaves a run nothing documented can find by its
        automation name (see the module's docstring), and deploying again runs the bot twice."""
        if settings.AA_DEPLOY_API == "v3":
            path = "/v3/automations/deploy"
            payload = {
                "fileId": bot_id,
                "runAsUserIds": settings.AA_RUN_AS_USER_IDS,
                "poolIds": settings.AA_POOL_IDS,
                "botInput": string_inputs(inputs),
            }
        else:
            path = "/v4/automations/deploy"
            payload = {
                "botId": bot_id,
                "automationName": automation_name,
                "botInput": string_inputs(inputs),
                "unattendedRequest": {
                    "runAsUserIds": settings.AA_RUN_AS_USER_IDS,
                    "poolIds": settings.AA_POOL_IDS,
                    "numOfRunAsUsersToUse": 1,
                },
            }
        try:
            return self._deploy(path, payload, self._token())
        except _Unauthorized:
            # The token expired or was revoked mid-run: authenticate again, once.
            return self._deploy(path, payload, self._token(renew=True))

    @_quick_retry
    def _deploy(self, path: str, payload: dict, token: str) -> str:
        body = self._json(self._post(path, payload, token=token), "deploy")
        deployment_id = body.get("deploymentId")
        if not isinstance(deployment_id, str | int) or deployment_id == "":
            raise TransientControlRoomError(f"deploy reply has no deploymentId: {str(body)[:200]}")
        return str(deployment_id)

    # --- the outcome of a run ----------------------------------------------------------------------
    def run_report(self, deployment_id: str) -> RunReport | None:
        """The bot run of a deployment as the Control Room's Activity List reports it
        (`POST {AA_ACTIVITY_LIST_PATH}` filtered on deploymentId); None while it is not listed yet
        (a run shows up a little after its deploy)."""
        payload = {"filter": {"operator": "eq", "field": "deploymentId", "value": deployment_id}}
        try:
            body = self._activity_list(payload, self._token())
        except _Unauthorized:
            body = self._activity_list(payload, self._token(renew=True))
        items = body.get("list")
        if not isinstance(items, list):
            raise TransientControlRoomError(f"activity list reply has no list: {str(body)[:200]}")
        # Only items that name this deployment: a Control Room that ignored the filter must not
        # lend another run's status. A deployment to several run-as users has several runs: failed
        # if any failed, completed when all did, otherwise the first one still going.
        runs = [item for item in items if isinstance(item, dict) and str(item.get("deploymentId")) == deployment_id]
        if not runs:
            return None
        reports = [_run_report(run) for run in runs]
        unfinished = next((report for report in reports if not report.completed), reports[0])
        return next((report for report in reports if report.failed), unfinished)

    @_quick_retry
    def _activity_list(self, payload: dict, token: str) -> dict:
        return self._json(self._post(settings.AA_ACTIVITY_LIST_PATH, payload, token=token), "activity list")

    # --- HTTP -----------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict, *, token: str | None) -> requests.Response:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["X-Authorization"] = token
        with timed(AA_CALL_SECONDS, endpoint=path) as labels:
            labels["outcome"] = "error"
            try:
                response = self.session.post(
                    f"{self.base_url}{path}", json=payload, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:  # connection, timeout, broken reply, redirects
                raise TransientControlRoomError(f"{path}: {exc.__class__.__name__}: {exc}") from exc
            labels["outcome"] = str(response.status_code)
        if response.status_code == 401 and token:
            raise _Unauthorized(f"{path}: HTTP 401")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientControlRoomError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            raise ControlRoomError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        return response

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise TransientControlRoomError(f"{what} reply is not JSON: {response.text[:200]!r}") from None
        if not isinstance(body, dict):
            raise TransientControlRoomError(f"{what} reply is not a JSON object")
        return body
