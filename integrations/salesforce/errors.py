"""What a call to Salesforce's REST API can end in, besides an answer.

Each error carries the HTTP `status` (None when no answer came) and `errors`, Salesforce's error
list as documented (`[{"message", "errorCode", "fields"}]`, read into that shape; empty when the
reply had none), and its message holds the whole error text, so a log line or an operator's
screen says what Salesforce said. Callers decide by class: an auth error waits for an operator, an
unavailable Salesforce is tried again on the caller's schedule, an exceeded limit waits for the
org's rolling 24 hours, a rejection is a fault in what was sent (`fields` names the field).
"""

from __future__ import annotations

import re

# The message of an unknown field on create, "No such column 'X' on sobject of type Task" (and on
# a query, "... on entity 'Task'"): Salesforce often sends it without a `fields` list, so the
# field is read from the message too.
_NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)'")


class SalesforceError(Exception):
    """Salesforce did not give a usable answer. The subclasses say why; this class itself is raised
    for an answer the documentation does not describe (a redirect), which no retry will fix."""

    def __init__(self, message: str, *, status: int | None = None, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []

    @property
    def error_codes(self) -> list[str]:
        return [error["errorCode"] for error in self.errors if error.get("errorCode")]


class SalesforceAuthError(SalesforceError):
    """The token endpoint refused the credentials (400/401 `{"error", "error_description"}`), the
    settings are missing or not a URL, or a call was refused (401) again with a renewed token.
    Permanent until an operator fixes the settings or the connected app."""


class SalesforceUnavailable(SalesforceError):
    """Salesforce was not reached or did not answer usefully: a 5xx, a timeout, a refused or cut
    connection, or a 2xx whose body is not the documented JSON. Transient: the caller tries again
    on its own schedule (the client does not loop). After a create, it does not mean that no record
    was made: the answer may have been lost after Salesforce made it."""


class SalesforceLimitExceeded(SalesforceError):
    """403 `REQUEST_LIMIT_EXCEEDED`: the org's API request limit (a rolling 24 hours) is used up.
    Calls succeed again as the oldest ones leave the window; retrying sooner only adds to the count."""


class SalesforceRejected(SalesforceError):
    """Any other 4xx: Salesforce understood the call and refused it (400 `INVALID_FIELD`,
    `REQUIRED_FIELD_MISSING`, `FIELD_CUSTOM_VALIDATION_EXCEPTION`, `MALFORMED_QUERY`; 404
    `NOT_FOUND`; a 403 other than the request limit). Sending the same again fails the same way."""

    @property
    def fields(self) -> list[str]:
        """Every field the error list names, in order, once: its `fields`, and the column of a
        "No such column 'X'" message (which Salesforce sends without `fields`)."""
        named: list[str] = []
        for error in self.errors:
            for field in error.get("fields") or []:
                if isinstance(field, str) and field not in named:
                    named.append(field)
            for field in _NO_SUCH_COLUMN.findall(error.get("message") or ""):
                if field not in named:
                    named.append(field)
        return named
