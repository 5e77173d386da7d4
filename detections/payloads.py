"""The two inSided webhook payloads and the webhook's replies: validated and described from here.

One declaration per payload (pydantic): the webhook validates with it, and the OpenAPI schema is
generated from it (detections.schema), so the rules are written once. pydantic's core validates a
usual delivery in a few microseconds, where a DRF serializer took more CPU than storing the event.
Each text limit is the column's (core.text) and a user id follows the rule the inSided client
keeps too (integrations.insided.profiles), so what passes can be stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)

from core.dates import MomentOutOfRange, moment_check
from core.text import MAX_NAME_LENGTH, MAX_TITLE_LENGTH
from integrations.insided.profiles import MAX_USER_ID_LENGTH, USER_ID_PATTERN, user_id_problem


def value_max_length(role: str) -> int:
    """The longest `value` a tracked field of this role can have: what its member column holds
    (a Country or Company lands in one of 255 characters, a title in a text column)."""
    from .models import SeniorMember, TrackedField

    if role in (TrackedField.Role.COUNTRY, TrackedField.Role.COMPANY):
        return SeniorMember._meta.get_field(role).max_length
    return MAX_TITLE_LENGTH


def _user_id(value: Any) -> str:
    """inSided sends userId as a string in profile updates and as an integer in registrations."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a non-empty string or a non-negative integer")
    text = str(value).strip()
    if not text or (isinstance(value, int) and value < 0):
        raise ValueError("must be a non-empty string or a non-negative integer")
    if problem := user_id_problem(text):
        raise ValueError(problem)
    return text


def user_id_refusal(text: str) -> str | None:
    """The rule's refusal as a sentence, worded as the webhook's field errors are; None: accepted."""
    problem = user_id_problem(text)
    return problem and problem[:1].upper() + problem[1:] + "."


def user_id_validate(text: str) -> None:
    """The rule as a Django validator (the API's user_id filter)."""
    if refusal := user_id_refusal(text):
        raise DjangoValidationError(refusal, code="invalid")


def _moment(value: Any) -> datetime:
    """An ISO 8601 date-time, read by Django's parser (the one the worker reads the stored payload
    with), aware (a moment without an offset is New York time, as the service's dates are), and in
    the service's range (core.dates), checked in New York time as it is read back."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        moment = parse_datetime(value)
    except ValueError:  # well formed, but no such moment
        moment = None
    if moment is None:
        raise ValueError("must be an ISO 8601 date-time, such as 2019-10-10T16:07:21+02:00")
    try:
        return moment_check(moment)
    except MomentOutOfRange as exc:
        raise ValueError(str(exc)) from None


UserId = Annotated[
    str,
    BeforeValidator(_user_id),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_USER_ID_LENGTH, "pattern": f"^{USER_ID_PATTERN}$"},
                {"type": "integer", "minimum": 0},
            ]
        }
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NAME_LENGTH)]
FieldName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)]
# A profile field's value as the member typed it: kept untrimmed, so a repeat is recognised exactly.
FieldValue = Annotated[str, StringConstraints(max_length=MAX_TITLE_LENGTH)]
Moment = Annotated[
    datetime,
    PlainValidator(_moment, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Payload(BaseModel):
    # Fields inSided may add later are ignored, as they were by every earlier version.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProfileUpdated(_Payload):
    """`integration.UserProfileUpdated`: one delivery per changed profile field."""

    userId: UserId
    username: Name = ""
    profileFieldId: StrictStr | StrictInt | None = None
    profileField: FieldName
    value: FieldValue | None = Field(description="The new value; null when the member cleared the field.")
    oldValue: FieldValue | None = None
    country: Name | None = Field(default=None, description="Not sent by inSided; accepted from other senders.")
    company: Name | None = Field(default=None, description="Not sent by inSided; accepted from other senders.")
    joined_at: Moment | None = Field(default=None, description="Not sent by inSided; accepted from other senders.")


class UserRegistered(_Payload):
    """`IdentityAccess.UserRegistered`: the profile is fetched from the community API."""

    userId: UserId
    date: Moment | None = None


class WebhookReply(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    event_id: int | None = Field(description="The stored event (for a duplicate, the one it repeats).")


class WebhookError(BaseModel):
    error: str = Field(description="A stable code: invalid, parse_error, not_authenticated, …")
    detail: str = Field(description="What is wrong, for a person.")
    fields: dict[str, list[str]] | None = Field(default=None, description="Per-field messages.")
