"""Validation of the two inSided webhook payloads."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_TITLE_LENGTH = 1000
MAX_NAME_LENGTH = 255


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 64}, {"type": "integer", "minimum": 1}]})
class UserIdField(serializers.Field):
    """inSided sends userId as a string in profile updates and as an integer in registrations."""

    default_error_messages = {
        "invalid": "Must be a non-empty string or a positive integer.",
        "too_long": "Must be at most 64 characters.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid")
        text = str(data).strip()
        if not text or (isinstance(data, int) and data < 0):
            self.fail("invalid")
        if len(text) > 64:
            self.fail("too_long")
        return text

    def to_representation(self, value):
        return value


class ProfileUpdatedSerializer(serializers.Serializer):
    """integration.UserProfileUpdated: {"userId", "username", "profileField", "value", "oldValue", ...}."""

    userId = UserIdField()
    username = StrictCharField(required=False, allow_blank=True, max_length=MAX_NAME_LENGTH, default="")
    profileFieldId = serializers.JSONField(required=False)
    profileField = StrictCharField(max_length=MAX_NAME_LENGTH)
    # null means the member cleared the field; anything but a string or null is refused.
    value = StrictCharField(allow_blank=True, allow_null=True, max_length=MAX_TITLE_LENGTH, trim_whitespace=False)
    oldValue = StrictCharField(
        required=False, allow_blank=True, allow_null=True, max_length=MAX_TITLE_LENGTH, trim_whitespace=False
    )
    country = StrictCharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_NAME_LENGTH)
    company = StrictCharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_NAME_LENGTH)
    joined_at = serializers.DateTimeField(required=False, allow_null=True)


class UserRegisteredSerializer(serializers.Serializer):
    """IdentityAccess.UserRegistered: {"userId": 12, "date": "2019-10-10T16:07:21+02:00"}."""

    userId = UserIdField()
    date = serializers.DateTimeField(required=False, allow_null=True)


def _text(value, *, max_length: int, strip: bool) -> str | None:
    """A string field's value as the serializer's StrictCharField gives it, or None to let the
    serializer decide (and word the error)."""
    if type(value) is not str or len(value) > max_length:
        return None
    return value.strip() if strip else value


def profile_update_validate_fast(data: dict) -> dict | None:
    """What ProfileUpdatedSerializer validates a common, valid payload to; None for anything else.

    The webhook's hot path: the serializer costs more CPU than storing the event. This accepts
    only payloads the serializer accepts, with the same values (a property test holds it to
    that); everything it does not recognise — every error included — goes through the
    serializer, which words the error. Expects JSON from `json_body_parse`, which has already
    refused NUL characters and lone surrogates.
    """
    user_id = data.get("userId")
    if type(user_id) is str:
        user_id = user_id.strip()
    elif type(user_id) is int and user_id >= 0:
        user_id = str(user_id)
    else:
        return None
    if not user_id or len(user_id) > 64:
        return None
    field = _text(data.get("profileField"), max_length=MAX_NAME_LENGTH, strip=True)
    if not field or "value" not in data:
        return None
    validated = {"userId": user_id, "profileField": field}
    username = data.get("username", "")
    validated["username"] = _text(username, max_length=MAX_NAME_LENGTH, strip=True)
    if validated["username"] is None:
        return None
    for name in ("value", "oldValue"):
        if data.get(name) is not None:
            validated[name] = _text(data[name], max_length=MAX_TITLE_LENGTH, strip=False)
            if validated[name] is None:
                return None
        elif name in data:
            validated[name] = None
    for name in ("country", "company"):
        if data.get(name) is not None and _text(data[name], max_length=MAX_NAME_LENGTH, strip=True) is None:
            return None
    if data.get("joined_at") is not None or ("profileFieldId" in data and data["profileFieldId"] is None):
        return None
    return validated
