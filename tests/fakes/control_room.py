"""A local fake of the Automation Anywhere Control Room API, on 127.0.0.1.

Speaks POST /v1/authentication, POST /v1/authentication/token (with the token in the body and as
X-Authorization, as documented), POST /v4/automations/deploy and POST /v3/automations/deploy
(botInput variables typed {"type": "STRING", "string": …}), and the Activity List, POST
/v3/activity/list (and the deprecated /v2), filtered on deploymentId: `{"page": {"offset",
"total", "totalFilter"}, "list": [{"id", "automationName", "fileName", "filePath", "type",
"startDateTime", "endDateTime", "command", "status", "progress", "deploymentId"}]}` as the
documentation's example shows it. Each deployed run walks through `run_statuses` (per bot, or
the default), one status per look, and stays on the last; a new run is not listed on the first
look when `listed_after_first_look` is off (the documented race after a deploy). The
documentation shows no error text on a failed run, so the fake sends none.

It fails on demand: HTTP errors, slow replies (timeouts), malformed replies, tokens that
expire or are revoked mid-run, and deploys held before or after they are accepted (a caller
killed in between). Its Activity List filters on deploymentId alone and answers any other filter
400: the documentation names automationId, deviceId, status and deploymentId as the filters, and
none of them finds a run by the automationName a deploy gave it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.fakes.http import FakeServer, JSONHandler


@dataclass
class Deployment:
    deployment_id: str
    api: str
    bot_id: int
    automation_name: str
    inputs: dict[str, str]
    run_as_user_ids: list[int]
    pool_ids: list[int]
    looks: int = 0  # Activity List queries about this run so far


@dataclass
class FakeControlRoom(FakeServer):
    username: str = "digest-bot"
    api_key: str = "test-api-key"
    token_lifetime: float = 1200.0
    deployments: list[Deployment] = field(default_factory=list)
    auth_requests: int = 0
    refresh_requests: int = 0
    deploy_requests: int = 0
    # What the next deploy requests get instead of a success: an HTTP status, "timeout",
    # "malformed" (200 with a body that is not JSON) or "no-id" (200 JSON without deploymentId);
    # or a held request, for a fault scenario to kill the caller meanwhile (`held` is set while
    # it waits): "hang" waits `slow_seconds`, then 504 with nothing deployed; "accept-then-hang"
    # records the deployment first, then waits and answers it (the reply a killed caller never reads).
    failures: list = field(default_factory=list)
    slow_seconds: float = 3.0
    # Bots whose runs all fail with HTTP 500 (one bot down, the other fine).
    failing_bots: set = field(default_factory=set)
    # The statuses a run reports on successive Activity List looks (the last one stays).
    run_statuses: list = field(default_factory=lambda: ["COMPLETED"])
    bot_run_statuses: dict = field(default_factory=dict)  # bot id -> its own list
    listed_after_first_look: bool = True
    activity_requests: int = 0
    activity_failures: list = field(default_factory=list)  # HTTP statuses for the next Activity List calls
    ignore_activity_filter: bool = False  # list every run, whatever the filter (a misbehaving Control Room)

    def __post_init__(self) -> None:
        self.tokens: dict[str, float] = {}
        self.lock = threading.Lock()
        self.held = threading.Event()
        self._listen(self._handler())

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def fail_next(self, *failures) -> None:
        with self.lock:
            self.failures.extend(failures)

    def names(self) -> list[str]:
        return [d.automation_name for d in self.deployments]

    def _issue(self) -> str:
        token = f"eyJ.{uuid.uuid4().hex}"
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return token

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def _error(self, status: int, code: str, message: str) -> None:
                self._reply(status, {"code": code, "details": "", "message": message})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._error(400, "bad.request", "Malformed JSON")
                if self.path == "/v1/authentication":
                    return self._authenticate(body)
                if self.path == "/v1/authentication/token":
                    return self._refresh(body)
                if self.path in ("/v4/automations/deploy", "/v3/automations/deploy"):
                    return self._deploy(body, api=self.path.split("/")[1])
                if self.path in ("/v3/activity/list", "/v2/activity/list"):
                    return self._activity(body)
                return self._error(404, "not.found", "No such endpoint")

            def _valid_token(self, token: str | None) -> bool:
                with fake.lock:
                    expiry = fake.tokens.get(token or "")
                return expiry is not None and expiry > time.monotonic()

            def _authenticate(self, body):
                with fake.lock:
                    fake.auth_requests += 1
                if (body.get("username"), body.get("apiKey")) != (fake.username, fake.api_key):
                    return self._error(401, "um.authentication.failed", "Invalid credentials")
                with fake.lock:
                    token = fake._issue()
                return self._reply(200, {"token": token, "user": {"id": 7, "username": fake.username}})

            def _refresh(self, body):
                with fake.lock:
                    fake.refresh_requests += 1
                header = self.headers.get("X-Authorization")
                if header != body.get("token") or not self._valid_token(header):
                    return self._error(401, "um.token.invalid", "Token is invalid or expired")
                with fake.lock:
                    token = fake._issue()
                return self._reply(200, {"token": token})

            def _activity(self, body):
                with fake.lock:
                    fake.activity_requests += 1
                    failure = fake.activity_failures.pop(0) if fake.activity_failures else None
                if not self._valid_token(self.headers.get("X-Authorization")):
                    return self._error(401, "um.token.invalid", "Token is invalid or expired")
                if failure is not None:
                    return self._error(failure, "injected", f"Injected HTTP {failure}")
                wanted = body.get("filter") or {}
                if (wanted.get("operator"), wanted.get("field")) != ("eq", "deploymentId"):
                    return self._error(400, "bad.request", "this fake filters on deploymentId only")
                with fake.lock:
                    wanted_id = None if fake.ignore_activity_filter else wanted.get("value")
                    runs = [d for d in fake.deployments if wanted_id in (None, d.deployment_id)]
                    for run in runs:
                        run.looks += 1
                    listed = [run for run in runs if fake.listed_after_first_look or run.looks > 1]
                    items = [self._activity_item(run) for run in listed]
                page = {"offset": 0, "total": len(fake.deployments), "totalFilter": len(items)}
                return self._reply(200, {"page": page, "list": items})

            @staticmethod
            def _activity_item(run: Deployment) -> dict:
                statuses = fake.bot_run_statuses.get(run.bot_id, fake.run_statuses)
                status = statuses[min(run.looks, len(statuses)) - 1]
                finished = status in ("COMPLETED", "DEPLOY_FAILED", "RUN_FAILED", "RUN_ABORTED", "RUN_TIMED_OUT")
                return {
                    "id": f"{run.deployment_id}_{run.bot_id:016x}",
                    "automationName": run.automation_name,
                    "fileName": f"bot-{run.bot_id}",
                    "filePath": "",
                    "type": "RUN_NOW",
                    "startDateTime": "2026-11-27T22:00:01.000000Z",
                    "endDateTime": "2026-11-27T22:00:09.000000Z" if finished else None,
                    "command": "sendEmail" if finished else "",
                    "status": status,
                    "progress": 100 if status == "COMPLETED" else 50,
                    "deploymentId": run.deployment_id,
                }

            def _deploy(self, body, *, api: str):
                with fake.lock:
                    fake.deploy_requests += 1
                    failure = fake.failures.pop(0) if fake.failures else None
                if not self._valid_token(self.headers.get("X-Authorization")):
                    if failure is not None:  # the injected failure waits for an authenticated request
                        with fake.lock:
                            fake.failures.insert(0, failure)
                    return self._error(401, "um.token.invalid", "Token is invalid or expired")
                if failure == "timeout":
                    time.sleep(fake.slow_seconds)
                    return self._error(504, "gateway.timeout", "Too slow")
                if failure == "hang":
                    self._hold()
                    return self._error(504, "gateway.timeout", "Too slow")
                if failure == "malformed":
                    return self._reply(200, b"<html>upstream error</html>")
                if failure == "no-id":
                    return self._reply(200, {"status": "queued"})
                if isinstance(failure, int):
                    return self._error(failure, "injected", f"Injected HTTP {failure}")
                inputs = body.get("botInput") or {}
                if not all(
                    isinstance(v, dict) and v.get("type") == "STRING" and isinstance(v.get("string"), str)
                    for v in inputs.values()
                ):
                    return self._error(400, "bad.request", "botInput values must be {type: STRING, string: ...}")
                if api == "v4":
                    unattended = body.get("unattendedRequest") or {}
                    bot_id, users, pools = body.get("botId"), unattended.get("runAsUserIds"), unattended.get("poolIds")
                else:
                    bot_id, users, pools = body.get("fileId"), body.get("runAsUserIds"), body.get("poolIds")
                if not isinstance(bot_id, int) or not isinstance(users, list):
                    return self._error(400, "bad.request", "botId/fileId must be an integer and runAsUserIds a list")
                if bot_id in fake.failing_bots:
                    return self._error(500, "bot.runner.unavailable", f"No device available for bot {bot_id}")
                deployment = Deployment(
                    deployment_id=str(uuid.uuid4()),
                    api=api,
                    bot_id=bot_id,
                    automation_name=body.get("automationName", ""),
                    inputs={name: value["string"] for name, value in inputs.items()},
                    run_as_user_ids=users,
                    pool_ids=pools or [],
                )
                with fake.lock:
                    fake.deployments.append(deployment)
                if failure == "accept-then-hang":
                    self._hold()
                return self._reply(
                    200, {"deploymentId": deployment.deployment_id, "automationName": deployment.automation_name}
                )

            @staticmethod
            def _hold() -> None:
                fake.held.set()
                try:
                    time.sleep(fake.slow_seconds)
                finally:
                    fake.held.clear()

        return Handler
