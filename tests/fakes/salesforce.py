"""A local fake of Salesforce's REST API, built from the REST API Developer Guide and the SOQL and
SOSL Reference (developer.salesforce.com), not from our client: what the CRM hand-off calls.

Endpoints:

- `POST /services/oauth2/token`, the OAuth 2.0 client credentials flow: a form body with
  `grant_type=client_credentials`, `client_id` and `client_secret` (the documented alternative,
  the credentials in an HTTP Basic header, is not served). The reply is 200 `{"access_token",
  "instance_url" (the fake's own URL), "id", "token_type": "Bearer", "issued_at" (epoch
  milliseconds, a string), "signature"}` (the signature as documented: Base64 of the HMAC-SHA256 of
  `id` + `issued_at` keyed with the client secret). No `expires_in`: a token is good until a fault
  below revokes it. A wrong grant type answers 400 `unsupported_grant_type`, wrong credentials 400
  `{"error": "invalid_client", "error_description": "invalid client credentials"}`.
- `GET /services/data/vXX.X/query?q=<SOQL>` and `GET /services/data/vXX.X/query/<locator>-<n>`
  (the `nextRecordsUrl`): `{"totalSize", "done", "records", "nextRecordsUrl"?}`, records with
  `"attributes": {"type", "url"}` and the selected fields, in batches of `batch_size` (2,000, the
  documented most; tests set it lower).
- `POST /services/data/vXX.X/sobjects/<Object>/`: 201 `{"id", "success": true, "errors": []}`.
- `PATCH /services/data/vXX.X/sobjects/<Object>/<ExternalIdField>/<value>`, the upsert: 201 and
  `"created": true` when it creates, 200 and `"created": false` when it updates, 300 with the
  matching records' URLs when several hold the value (the hand-off does not use it: docs/crm.md).
- `GET /services/data/vXX.X/sobjects/<Object>/<id>`: the record, every field (for tests to look).
- Errors as the documented list `[{"message", "errorCode", "fields"}]`. Every reply under
  `/services/data` carries `Sforce-Limit-Info: api-usage=<used>/<limit>`, 401s and other errors
  too (the documentation says each REST reply does); `used` counts those requests.

Objects and fields (the hand-off's, from the reference): Account (Id, Name, Website, OwnerId),
Contact (Id, AccountId, Email, FirstName, LastName, Title), Task (Id, Subject, Description, WhatId,
WhoId, OwnerId, ActivityDate, Status, Priority, and the custom Text(255) field
`CaptPathfinder_Handoff_Key__c` the hand-off finds its own tasks by). Ids look like Salesforce's:
15 characters (key prefix 001, 003, 00T, then a number in base 62) and the documented 3-character
case checksum.

The SOQL subset, and nothing more (anything else answers 400 MALFORMED_QUERY, naming what the fake
lacks, so a query the fake cannot judge fails loudly instead of passing):

    SELECT f1, f2 FROM Object
      [WHERE cond (AND cond)* | cond (OR cond)*]
      [ORDER BY f [ASC|DESC]] [LIMIT n]
    cond:  f = 'x' | f != 'x' | f = null | f != null | f LIKE 'x%' | f IN ('x', 'y')

Keywords, objects and fields are case-insensitive; replies name fields as the schema spells them.
String literals take the documented escapes (`\\n \\r \\t \\b \\f \\" \\' \\\\ \\uXXXX`, the
letter escapes in either case; `\\%` and `\\_` only in LIKE); any other backslash is an error, as
documented. Mixing AND and OR without parentheses is an error in SOQL, and parentheses are beyond
this subset. `=` on text is case-insensitive, as documented for fields that are not unique
case-sensitive ones; on ids it is exact (a 15-character id matches its 18-character form). LIKE is
case-insensitive with `%` and `_`. An unknown field answers 400 INVALID_FIELD "No such column 'X'
on entity 'Obj'. ..." and an unknown object 400 INVALID_TYPE (the real messages also echo the
query with a caret; these do not).

Creating checks what the reference and common replies show: an unknown field answers 400
INVALID_FIELD "No such column 'X' on sobject of type Task" (`fields` [X]), `Id` answers
INVALID_FIELD_FOR_INSERT_UPDATE, a missing Account Name or Contact LastName REQUIRED_FIELD_MISSING,
a text value that is too long STRING_TOO_LONG, an ActivityDate that is not yyyy-mm-dd
JSON_PARSER_ERROR, and a validation rule a test installs (`reject_when`)
FIELD_CUSTOM_VALIDATION_EXCEPTION with its message and fields.

Chosen here where the documentation is silent, and said so: field names in a create body must be
spelled as the schema spells them (a stricter fake); a text field takes a string or null, not a
number; a reference field takes the id of an existing record (WhatId an Account, WhoId a Contact,
AccountId an Account; OwnerId any well-formed 005 id, the fake keeps no users), else 400
MALFORMED_ID for a malformed id and INVALID_CROSS_REFERENCE_KEY for an unknown one (the messages
are the fake's); a new Task's Status defaults to "Not Started", Priority to "Normal" and OwnerId
to the integration user; `!=` matches records whose field is null; the fake refuses requests with
403 REQUEST_LIMIT_EXCEEDED once `api_used` is over `api_limit` (Salesforce may allow some
overage); `\\b` decodes to the bell character (the English reference says "bell").

Faults a test switches on, each for the next n requests under `/services/data` (checked in this
order: hang, fail_next, the token, the limit): `hang(seconds)` answers late (and then does the
work, as a slow server would); `fail_next(n, status)` answers 500 UNKNOWN_EXCEPTION;
`expire_token(n)` answers 401 INVALID_SESSION_ID "Session expired or invalid" and revokes the
token presented; `limit_exceeded(n)` answers 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit
exceeded."; `drop_reply_after_create(n)` makes the record, then closes the connection unanswered
(the lost answer). Every request is recorded in `calls` (method, path with query, monotonic time).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http import FakeServer, JSONHandler

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_id(prefix: str, number: int) -> str:
    """An 18-character record id: the 3-character key prefix, "5g0", the number in base 62 (9
    characters), and the checksum."""
    digits = ""
    for _ in range(9):
        number, digit = divmod(number, 62)
        digits = _ID_CHARS[digit] + digits
    id15 = f"{prefix}5g0{digits}"
    return id15 + id_checksum(id15)


def id_checksum(id15: str) -> str:
    """The 3 characters that make a 15-character id case-insensitively unique: for each 5
    characters, which of them are capitals, as a 5-bit index."""
    return "".join(
        _ID_CHECKSUM_CHARS[sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")]
        for start in (0, 5, 10)
    )


ORG_ID = sf_id("00D", 7)
INTEGRATION_USER_ID = sf_id("005", 1)  # the user the client credentials run as
DEFAULT_OWNER_ID = sf_id("005", 2)  # the account owner the helpers give


@dataclass(frozen=True)
class Field:
    kind: str  # "id", "text", "reference", "date"
    length: int = 0  # text: the most characters
    target: str = ""  # reference: the object it names ("User" is any well-formed 005 id)
    label: str = ""
    external_id: bool = False  # upsert may match by it


SCHEMA: dict[str, dict] = {
    "Account": {
        "prefix": "001",
        "required": ["Name"],
        "fields": {
            "Id": Field("id"),
            "Name": Field("text", 255, label="Account Name"),
            "Website": Field("text", 255, label="Website"),
            "OwnerId": Field("reference", target="User", label="Owner ID"),
        },
    },
    "Contact": {
        "prefix": "003",
        "required": ["LastName"],
        "fields": {
            "Id": Field("id"),
            "AccountId": Field("reference", target="Account", label="Account ID"),
            "Email": Field("text", 80, label="Email"),
            "FirstName": Field("text", 40, label="First Name"),
            "LastName": Field("text", 80, label="Last Name"),
            "Title": Field("text", 128, label="Title"),
            "OwnerId": Field("reference", target="User", label="Owner ID"),
        },
    },
    "Task": {
        "prefix": "00T",
        "required": [],
        "defaults": {"Status": "Not Started", "Priority": "Normal"},
        "fields": {
            "Id": Field("id"),
            "Subject": Field("text", 255, label="Subject"),
            "Description": Field("text", 32000, label="Description"),
            "WhatId": Field("reference", target="Account", label="Related To ID"),
            "WhoId": Field("reference", target="Contact", label="Name ID"),
            "OwnerId": Field("reference", target="User", label="Assigned To ID"),
            "ActivityDate": Field("date", label="Due Date Only"),
            "Status": Field("text", 40, label="Status"),
            "Priority": Field("text", 40, label="Priority"),
            # An org may or may not let an activity field be an External ID; this fake's org does, so
            # the documented upsert can be tried against it (the hand-off does not rely on it).
            "CaptPathfinder_Handoff_Key__c": Field("text", 255, label="CaptPathfinder Handoff Key", external_id=True),
        },
    },
}


def _error(code: str, message: str, fields: list[str] | None = None) -> list[dict]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


class ApiFault(Exception):
    """An error reply: status and the documented error list."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, _error(code, message, fields)


def _malformed(message: str) -> ApiFault:
    return ApiFault(400, "MALFORMED_QUERY", message)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with the query string
    at: float  # time.monotonic()


@dataclass
class Rule:
    sobject: str
    predicate: Callable[[dict], bool]
    message: str
    fields: list[str] = field(default_factory=list)


class FakeSalesforce(FakeServer):
    client_id = "3MVG9test.client.id"
    client_secret = "test-client-secret"
    api_version = "v62.0"

    def __init__(self, *, batch_size: int = 2000, api_limit: int = 15000) -> None:
        self.batch_size = batch_size
        self.api_limit = api_limit
        self.api_used = 0  # REST requests so far; set it to test a caller's slow-down
        self.records: dict[str, dict[str, dict]] = {name: {} for name in SCHEMA}
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.calls: list[Call] = []
        self.rules: list[Rule] = []
        self._numbers = iter(range(1000, 10**9))
        self._cursors: dict[str, list[dict]] = {}  # query locator -> the query's records, as replied
        self._hangs: list[float] = []
        self._failures: list[int] = []
        self._expiries = 0
        self._limit_refusals = 0
        self._drops = 0
        self._lock = threading.Lock()
        self._listen(self._handler())

    # --- seeding and looking ---------------------------------------------------------------------
    def record_add(self, sobject: str, fields: dict) -> str:
        """A record as it stands in the org (no validation): returns its new id."""
        with self._lock:
            record_id = sf_id(SCHEMA[sobject]["prefix"], next(self._numbers))
            self.records[sobject][record_id] = {name: None for name in SCHEMA[sobject]["fields"]} | fields
            self.records[sobject][record_id]["Id"] = record_id
        return record_id

    def account_add(self, name: str, website: str | None = None, owner_id: str = DEFAULT_OWNER_ID) -> str:
        return self.record_add("Account", {"Name": name, "Website": website, "OwnerId": owner_id})

    def contact_add(self, account_id: str, email: str, first: str, last: str, title: str | None = None) -> str:
        fields = {"AccountId": account_id, "Email": email, "FirstName": first, "LastName": last, "Title": title}
        return self.record_add("Contact", fields | {"OwnerId": DEFAULT_OWNER_ID})

    def records_of(self, sobject: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy(list(self.records[sobject].values()))

    @property
    def tasks(self) -> list[dict]:
        return self.records_of("Task")

    def reject_when(
        self, predicate: Callable[[dict], bool], message: str, fields: list[str] | None = None, *, sobject: str = "Task"
    ) -> None:
        """A validation rule: a create of `sobject` whose fields satisfy `predicate` answers 400
        FIELD_CUSTOM_VALIDATION_EXCEPTION with `message` (`fields`: where the rule shows its error)."""
        self.rules.append(Rule(sobject, predicate, message, list(fields or [])))

    # --- faults ----------------------------------------------------------------------------------
    def hang(self, seconds: float, n: int = 1) -> None:
        with self._lock:
            self._hangs.extend([seconds] * n)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    def expire_token(self, n: int = 1) -> None:
        """The next n REST requests answer 401 INVALID_SESSION_ID, and the token each presented is
        revoked (n=2: the renewed token fails too)."""
        with self._lock:
            self._expiries += n

    def limit_exceeded(self, n: int = 1) -> None:
        with self._lock:
            self._limit_refusals += n

    def drop_reply_after_create(self, n: int = 1) -> None:
        with self._lock:
            self._drops += n

    # --- the server ------------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            extra_headers: list[tuple[str, str]] = []

            def end_headers(self):
                for name, value in self.extra_headers:
                    self.send_header(name, value)
                super().end_headers()

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _record(self, method: str) -> None:
                with fake._lock:
                    fake.calls.append(Call(method, self.path, time.monotonic()))

            def do_POST(self):
                self._record("POST")
                if urlsplit(self.path).path == "/services/oauth2/token":
                    return self._token(self._body())
                return self._rest("POST")

            def do_GET(self):
                self._record("GET")
                return self._rest("GET")

            def do_PATCH(self):
                self._record("PATCH")
                return self._rest("PATCH")

            def do_DELETE(self):
                self._record("DELETE")
                return self._rest("DELETE")

            # --- OAuth ---------------------------------------------------------------------------
            def _token(self, body: bytes) -> None:
                form = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
                with fake._lock:
                    fake.token_requests += 1
                if form.get("grant_type") != "client_credentials":
                    error = {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
                    return self._reply(400, error)
                if (form.get("client_id"), form.get("client_secret")) != (fake.client_id, fake.client_secret):
                    return self._reply(
                        400, {"error": "invalid_client", "error_description": "invalid client credentials"}
                    )
                token = f"{ORG_ID[:15]}!AQ0AQ{uuid.uuid4().hex}"
                with fake._lock:
                    fake.tokens.add(token)
                identity = f"{fake.url}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
                issued_at = str(int(time.time() * 1000))
                digest = hmac.new(fake.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
                return self._reply(
                    200,
                    {
                        "access_token": token,
                        "signature": base64.b64encode(digest.digest()).decode(),
                        "instance_url": fake.url,
                        "id": identity,
                        "token_type": "Bearer",
                        "issued_at": issued_at,
                    },
                )

            # --- REST ----------------------------------------------------------------------------
            def _rest(self, method: str) -> None:
                url = urlsplit(self.path)
                if not url.path.startswith("/services/data/"):
                    return self._reply(404, _error("NOT_FOUND", "The requested resource does not exist"))
                body = self._body() if method in ("POST", "PATCH") else b""
                with fake._lock:
                    pause = fake._hangs.pop(0) if fake._hangs else 0.0
                if pause:
                    time.sleep(pause)
                with fake._lock:
                    fake.api_used += 1
                    self.extra_headers = [("Sforce-Limit-Info", f"api-usage={fake.api_used}/{fake.api_limit}")]
                    failure = fake._failures.pop(0) if fake._failures else None
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    expire = fake._expiries > 0 and failure is None
                    if expire:
                        fake._expiries -= 1
                        fake.tokens.discard(token)
                    authorized = token in fake.tokens
                    refuse = (
                        authorized and failure is None and (fake._limit_refusals > 0 or fake.api_used > fake.api_limit)
                    )
                    if refuse and fake._limit_refusals > 0:
                        fake._limit_refusals -= 1
                if failure is not None:
                    message = (
                        "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-8"
                    )
                    return self._reply(failure, _error("UNKNOWN_EXCEPTION", message))
                if not authorized:
                    return self._reply(
                        401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
                    )
                if refuse:
                    return self._reply(403, _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
                try:
                    self._route(method, url.path, parse_qs(url.query), body)
                except ApiFault as fault:
                    self._reply(fault.status, fault.body)

            def _route(self, method: str, path: str, query: dict, body: bytes) -> None:
                parts = [unquote(part) for part in path.removeprefix("/services/data/").split("/")]
                if parts[-1] == "" and len(parts) > 1:
                    parts.pop()  # a trailing slash, as the documentation writes /sobjects/Task/
                not_found = ApiFault(404, "NOT_FOUND", "The requested resource does not exist")
                if not re.fullmatch(r"v\d+\.\d", parts[0]):
                    raise not_found
                version, rest = parts[0], parts[1:]
                if rest[:1] == ["query"] and len(rest) <= 2:
                    if method != "GET":
                        raise ApiFault(
                            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD"
                        )
                    if len(rest) == 2:
                        return self._reply(200, fake._query_more(version, rest[1]))
                    if not query.get("q"):
                        raise _malformed("A query string has to be specified")
                    return self._reply(200, fake._query(version, query["q"][0]))
                if rest[:1] == ["sobjects"] and len(rest) in (2, 3):
                    sobject = next((name for name in SCHEMA if name.lower() == rest[1].lower()), None)
                    if sobject is None:
                        raise not_found
                    if len(rest) == 2 and method == "POST":
                        record_id = fake._create(sobject, body)
                        with fake._lock:
                            drop = fake._drops > 0
                            fake._drops -= drop
                        if drop:
                            self.close_connection = True  # made, and the answer lost
                            return None
                        return self._reply(201, {"id": record_id, "success": True, "errors": []})
                    if len(rest) == 3 and method == "GET":
                        return self._reply(200, fake._retrieve(version, sobject, rest[2]))
                    raise ApiFault(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
                if rest[:1] == ["sobjects"] and len(rest) == 4 and method == "PATCH":
                    sobject = next((name for name in SCHEMA if name.lower() == rest[1].lower()), None)
                    if sobject is None:
                        raise not_found
                    status, reply = fake._upsert(version, sobject, rest[2], rest[3], body)
                    with fake._lock:
                        drop = fake._drops > 0
                        fake._drops -= drop
                    if drop:
                        self.close_connection = True  # done, and the answer lost
                        return None
                    return self._reply(status, reply)
                raise not_found

        return Handler

    # --- what the endpoints do -------------------------------------------------------------------
    def _attributes(self, version: str, sobject: str, record_id: str) -> dict:
        return {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{record_id}"}

    def _retrieve(self, version: str, sobject: str, record_id: str) -> dict:
        with self._lock:
            record = _find(self.records[sobject], record_id)
            if record is None:
                raise ApiFault(404, "NOT_FOUND", "The requested resource does not exist")
            return {"attributes": self._attributes(version, sobject, record["Id"]), **copy.deepcopy(record)}

    def _query(self, version: str, soql: str) -> dict:
        query = soql_parse(soql)
        with self._lock:
            selected = [record for record in self.records[query.sobject].values() if query.matches(record)]
            selected = query.ordered(selected)
            if query.limit is not None:
                selected = selected[: query.limit]
            replied = [
                {"attributes": self._attributes(version, query.sobject, record["Id"])}
                | {name: copy.deepcopy(record.get(name)) for name in query.fields}
                for record in selected
            ]
            locator = sf_id("01g", next(self._numbers))
            self._cursors[locator] = replied
        return self._batch(version, locator, 0)

    def _query_more(self, version: str, locator_and_offset: str) -> dict:
        locator, _, offset = locator_and_offset.rpartition("-")
        if locator not in self._cursors or not offset.isdigit():
            raise ApiFault(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(version, locator, int(offset))

    def _batch(self, version: str, locator: str, offset: int) -> dict:
        records = self._cursors[locator]
        end = offset + max(1, self.batch_size)
        reply = {"totalSize": len(records), "done": end >= len(records), "records": records[offset:end]}
        if not reply["done"]:
            reply["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
        return reply

    def _create(self, sobject: str, body: bytes) -> str:
        try:
            fields = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiFault(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc
        if not isinstance(fields, dict):
            raise ApiFault(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body")
        schema = SCHEMA[sobject]
        for name in fields:
            if name not in schema["fields"]:
                raise ApiFault(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name])
        if "Id" in fields:
            message = (
                "Unable to create/update fields: Id. Please check the security settings of this field and verify "
                "that it is read/write for your profile or permission set."
            )
            raise ApiFault(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, ["Id"])
        missing = [name for name in schema["required"] if not fields.get(name)]
        if missing:
            raise ApiFault(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        with self._lock:
            for name, value in fields.items():
                self._check_value(schema["fields"][name], name, value)
            for rule in self.rules:
                if rule.sobject == sobject and rule.predicate(dict(fields)):
                    raise ApiFault(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, rule.fields)
        owner = {"OwnerId": INTEGRATION_USER_ID} if "OwnerId" in schema["fields"] else {}
        return self.record_add(sobject, owner | schema.get("defaults", {}) | fields)

    def _upsert(self, version: str, sobject: str, field: str, value: str, body: bytes) -> tuple[int, object]:
        """`PATCH /sobjects/<Object>/<ExternalIdField>/<value>`, as documented: no record with that
        value, 201 and a new one `{"id", "success", "errors", "created": true}`; one, 200 and it updated
        (`"created": false`; API versions before 46.0 answered 204, not served here); several, 300 with
        the list of their URLs. A field that is no External ID answers 404 NOT_FOUND."""
        spec = SCHEMA[sobject]["fields"].get(field)
        if spec is None or not spec.external_id:
            raise ApiFault(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}")
        with self._lock:
            matched = [r for r in self.records[sobject].values() if (r.get(field) or "").casefold() == value.casefold()]
        if len(matched) > 1:
            return 300, [self._attributes(version, sobject, r["Id"])["url"] for r in matched]
        fields = json.loads(body or b"{}") if body else {}
        if not isinstance(fields, dict):
            raise ApiFault(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body")
        if field in fields:
            message = f"The field {field} is the external ID of this upsert: it may not be in the body"
            raise ApiFault(400, "INVALID_FIELD", message, [field])
        if not matched:
            record_id = self._create(sobject, json.dumps({**fields, field: value}).encode())
            return 201, {"id": record_id, "success": True, "errors": [], "created": True}
        for name in fields:
            if name not in SCHEMA[sobject]["fields"] or name == "Id":
                raise ApiFault(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name])
        with self._lock:
            for name, new in fields.items():
                self._check_value(SCHEMA[sobject]["fields"][name], name, new)
            self.records[sobject][matched[0]["Id"]].update(fields)
        return 200, {"id": matched[0]["Id"], "success": True, "errors": [], "created": False}

    def _check_value(self, spec: Field, name: str, value) -> None:
        if value is None:
            return
        if spec.kind == "date":
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or not _is_date(value):
                message = (
                    f"Cannot deserialize instance of date from VALUE_STRING value {value} "
                    "or request may be missing a required field"
                )
                raise ApiFault(400, "JSON_PARSER_ERROR", message)
            return
        if not isinstance(value, str):
            raise ApiFault(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of string from {type(value).__name__} value {value}",
            )
        if spec.kind == "text" and len(value) > spec.length:
            message = f"{spec.label}: data value too large: {value[:50]} (max length={spec.length})"
            raise ApiFault(400, "STRING_TOO_LONG", message, [name])
        if spec.kind == "reference":
            prefix = "005" if spec.target == "User" else SCHEMA[spec.target]["prefix"]
            if not re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", value) or not value.startswith(prefix):
                raise ApiFault(400, "MALFORMED_ID", f"{spec.label}: id value of incorrect type: {value}", [name])
            if spec.target != "User" and _find(self.records[spec.target], value) is None:
                raise ApiFault(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _find(records: dict[str, dict], record_id: str) -> dict | None:
    """The record with this id, in its 18- or its 15-character form (ids are case-sensitive)."""
    if len(record_id) == 15:
        return next((record for key, record in records.items() if key[:15] == record_id), None)
    return records.get(record_id)


# --- the SOQL subset -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<number>\d+)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<op>!=|<>|<=|>=|[=<>,()])
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\x07", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IN", "ORDER", "BY", "ASC", "DESC", "LIMIT", "NULL"}


def _tokens(soql: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while soql[position:].strip():
        match = _TOKEN.match(soql, position)
        if match is None:
            raise _malformed(f"unexpected token: {soql[position:].strip()[:30]}")
        kind = match.lastgroup or ""
        tokens.append((kind, match[kind]))
        position = match.end()
    return tokens


def _literal(token: str, *, like: bool) -> str | re.Pattern:
    """A quoted literal's value; for LIKE, a pattern (`%`, `_` wildcards, `\\%`, `\\_` themselves)."""
    text, out, i = token[1:-1], [], 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            out.append((".*" if char == "%" else "." if char == "_" else re.escape(char)) if like else char)
            i += 1
            continue
        escape = text[i + 1]
        if escape.lower() in _ESCAPES or escape in _ESCAPES:
            value = _ESCAPES.get(escape) or _ESCAPES[escape.lower()]
            i += 2
        elif escape == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
            value = chr(int(text[i + 2 : i + 6], 16))
            i += 6
        elif like and escape in "%_":
            value = escape
            i += 2
        else:
            raise _malformed(f"Invalid string literal {token}: illegal escape sequence \\{escape}")
        out.append(re.escape(value) if like else value)
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL) if like else "".join(out)


@dataclass
class Condition:
    field: str
    op: str  # "=", "!=", "LIKE", "IN"
    value: object  # str, None, a pattern (LIKE) or a list of str (IN)
    spec: Field

    def holds(self, record: dict) -> bool:
        value = record.get(self.field)
        if self.op == "LIKE":
            return value is not None and self.value.fullmatch(value) is not None
        if self.op == "IN":
            return any(self._equal(value, wanted) for wanted in self.value)
        equal = self._equal(value, self.value)
        return equal if self.op == "=" else not equal

    def _equal(self, value, wanted) -> bool:
        if wanted is None or value is None:
            return wanted is None and value is None
        if self.spec.kind in ("id", "reference"):
            return value == wanted or (len(wanted) == 15 and value[:15] == wanted)
        return value.casefold() == wanted.casefold()


@dataclass
class Query:
    sobject: str
    fields: list[str]
    conditions: list[Condition]
    connective: str  # "AND" or "OR"
    order: tuple[str, bool] | None  # (field, descending)
    limit: int | None

    def matches(self, record: dict) -> bool:
        if not self.conditions:
            return True
        results = (condition.holds(record) for condition in self.conditions)
        return all(results) if self.connective == "AND" else any(results)

    def ordered(self, records: list[dict]) -> list[dict]:
        if self.order is None:
            return records
        name, descending = self.order
        # Ascending puts nulls first, as SOQL's default does (NULLS FIRST); descending, last.
        return sorted(
            records,
            key=lambda record: (record.get(name) is not None, str(record.get(name) or "").casefold()),
            reverse=descending,
        )


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise _malformed("unexpected end of query")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        kind, value = self.peek()
        if kind == "name" and value.upper() == word:
            self.position += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise _malformed(f"unexpected token: {self.peek()[1] or 'end of query'} (expected {word})")

    def name(self) -> str:
        kind, value = self.next()
        if kind != "name" or value.upper() in _KEYWORDS:
            raise _malformed(f"unexpected token: {value}")
        return value

    def symbol(self, symbol: str) -> None:
        kind, value = self.next()
        if (kind, value) != ("op", symbol):
            raise _malformed(f"unexpected token: {value} (expected {symbol})")


def _field(sobject: str, name: str) -> tuple[str, Field]:
    if "." in name:
        raise _malformed(f"relationship fields ({name}) are beyond the fake's SOQL subset")
    for known, spec in SCHEMA[sobject]["fields"].items():
        if known.lower() == name.lower():
            return known, spec
    message = (
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, be sure to "
        "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names."
    )
    raise ApiFault(400, "INVALID_FIELD", message)


def soql_parse(soql: str) -> Query:
    """The fake's SOQL subset (see the module's docstring); anything else raises an ApiFault."""
    reader = _Reader(_tokens(soql))
    reader.expect("SELECT")
    names = [reader.name()]
    while reader.peek() == ("op", ","):
        reader.next()
        names.append(reader.name())
    reader.expect("FROM")
    written = reader.name()
    sobject = next((name for name in SCHEMA if name.lower() == written.lower()), None)
    if sobject is None:
        message = (
            f"sObject type '{written}' is not supported. If you are attempting to use a custom object, be sure to "
            "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
            "appropriate names."
        )
        raise ApiFault(400, "INVALID_TYPE", message)
    fields = [_field(sobject, name)[0] for name in names]
    conditions, connective = [], "AND"
    if reader.keyword("WHERE"):
        conditions.append(_condition(reader, sobject))
        while reader.peek()[0] == "name" and reader.peek()[1].upper() in ("AND", "OR"):
            word = reader.next()[1].upper()
            if len(conditions) > 1 and word != connective:
                raise _malformed(f"unexpected token: {word} (mixing AND and OR needs parentheses)")
            connective = word
            conditions.append(_condition(reader, sobject))
    order = None
    if reader.keyword("ORDER"):
        reader.expect("BY")
        name, _ = _field(sobject, reader.name())
        descending = reader.keyword("DESC")
        if not descending:
            reader.keyword("ASC")
        order = (name, descending)
    limit = None
    if reader.keyword("LIMIT"):
        kind, value = reader.next()
        if kind != "number":
            raise _malformed(f"unexpected token: {value}")
        limit = int(value)
    if reader.peek()[0] != "end":
        raise _malformed(f"unexpected token: {reader.peek()[1]} (beyond the fake's SOQL subset)")
    return Query(sobject, fields, conditions, connective, order, limit)


def _condition(reader: _Reader, sobject: str) -> Condition:
    if reader.peek() == ("op", "("):
        raise _malformed("unexpected token: ( (parentheses are beyond the fake's SOQL subset)")
    name, spec = _field(sobject, reader.name())
    kind, operator = reader.next()
    operator = operator.upper()
    if spec.kind == "date":
        raise _malformed(f"conditions on the date field {name} are beyond the fake's SOQL subset")
    if (kind, operator) == ("name", "LIKE"):
        if spec.kind != "text":
            raise ApiFault(400, "INVALID_FIELD", f"invalid operator on id field: {name}")
        kind, value = reader.next()
        if kind != "string":
            raise _malformed(f"unexpected token: {value}")
        return Condition(name, "LIKE", _literal(value, like=True), spec)
    if (kind, operator) == ("name", "IN"):
        reader.symbol("(")
        values = []
        while True:
            kind, value = reader.next()
            if kind != "string":
                raise _malformed(f"unexpected token: {value}")
            values.append(_literal(value, like=False))
            kind, value = reader.next()
            if value == ")":
                break
            if value != ",":
                raise _malformed(f"unexpected token: {value}")
        return Condition(name, "IN", values, spec)
    if kind == "op" and operator in ("=", "!=", "<>"):
        kind, value = reader.next()
        if kind == "name" and value.upper() == "NULL":
            literal = None
        elif kind == "string":
            literal = _literal(value, like=False)
        else:
            raise _malformed(f"unexpected token: {value} (the fake compares with string literals and null)")
        return Condition(name, "=" if operator == "=" else "!=", literal, spec)
    raise _malformed(f"unexpected token: {operator} (the fake's operators: =, !=, LIKE, IN)")
