"""The webhook payloads' rules (detections.payloads): what passes can be stored, the rest is named."""

import json
import os
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rest_framework.exceptions import ParseError

from detections.models import RawEvent, SeniorMember
from detections.parsers import json_body_parse
from detections.payloads import ProfileUpdated, UserRegistered

EXAMPLES = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 1000)), derandomize=True, deadline=None)
TEXT = st.text(max_size=70) | st.sampled_from(["", "  ", " VP ", "a" * 64, "a" * 65, "x" * 256, "x" * 1001, "\x00"])
VALUES = st.none() | st.booleans() | st.integers(min_value=-5, max_value=10**70) | st.floats(allow_nan=False) | TEXT
VALUES = VALUES | st.lists(VALUES, max_size=2) | st.dictionaries(st.text(max_size=3), VALUES, max_size=2)
MOMENTS = st.sampled_from(["2024-01-01T00:00:00Z", "2019-10-10T16:07:21+02:00", "9999-12-31T23:59:59", "0001-01-01"])


def typical(**changes) -> dict:
    """A profile update as inSided sends it."""
    payload = {"userId": "7", "username": "Ada", "profileFieldId": "12", "profileField": "Job Title"}
    return {**payload, "value": "VP Sales", "oldValue": "Engineer", **changes}


FIELD_NAMES = st.sampled_from([*typical(), "country", "company", "joined_at"])
MIXED = st.dictionaries(FIELD_NAMES, VALUES | MOMENTS) | st.builds(
    lambda changes, dropped: {k: v for k, v in typical(**changes).items() if k not in dropped},
    st.dictionaries(FIELD_NAMES, TEXT | VALUES | MOMENTS, max_size=2),
    st.sets(FIELD_NAMES, max_size=1),
)
_COLUMNS = {
    "userId": RawEvent._meta.get_field("user_id").max_length,
    "username": RawEvent._meta.get_field("username").max_length,
    "profileField": RawEvent._meta.get_field("field").max_length,
    "country": SeniorMember._meta.get_field("country").max_length,
    "company": SeniorMember._meta.get_field("company").max_length,
}
accepted: list = []


@EXAMPLES
@given(MIXED)
def test_whatever_passes_fits_its_column(payload):
    try:
        payload = json_body_parse(json.dumps(payload).encode())  # as the webhook sees it
        validated = ProfileUpdated.model_validate(payload)
    except (ParseError, ValidationError):
        return
    accepted.append(1)
    for name, limit in _COLUMNS.items():
        value = getattr(validated, name)
        assert value is None or len(value) <= limit, (name, value)
    assert validated.userId and validated.profileField
    assert validated.joined_at is None or validated.joined_at.utcoffset() is not None


def test_the_property_saw_payloads_that_passed():
    assert len(accepted) > 50  # runs after the property (file order): it was not vacuous


def test_the_usual_deliveries_pass_with_their_values():
    assert ProfileUpdated.model_validate(typical()).model_dump(exclude_none=True) == {
        "userId": "7",
        "username": "Ada",
        "profileFieldId": "12",
        "profileField": "Job Title",
        "value": "VP Sales",
        "oldValue": "Engineer",
    }
    update = ProfileUpdated.model_validate(typical(userId=12, value=" VP ", username=" Ada "))
    assert (update.userId, update.value, update.username) == ("12", " VP ", "Ada")  # a value is kept as typed
    assert ProfileUpdated.model_validate(typical(value=None)).value is None  # the member cleared it
    assert UserRegistered.model_validate({"userId": 12, "date": "2019-10-10T16:07:21+02:00"}).userId == "12"


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"userId": True}, "userId"),
        ({"userId": " "}, "userId"),
        ({"userId": "1" * 65}, "userId"),
        ({"userId": -1}, "userId"),
        ({"userId": 1.5}, "userId"),
        ({"profileField": " "}, "profileField"),
        ({"value": 5}, "value"),
        ({"oldValue": "x" * 1001}, "oldValue"),
        ({"username": None}, "username"),
        ({"username": "x" * 256}, "username"),
        ({"country": 3}, "country"),
        ({"company": "x" * 256}, "company"),
        ({"joined_at": "yesterday"}, "joined_at"),
        ({"joined_at": 1700000000}, "joined_at"),
        ({"joined_at": "1700000000"}, "joined_at"),  # the worker reads the stored payload with Django's parser
        ({"joined_at": "2024-02-30T10:00:00Z"}, "joined_at"),
        ({"profileFieldId": 1.5}, "profileFieldId"),
        ({"joined_at": "9999-12-31T23:59:59"}, "joined_at"),  # New York's last second of 9999 is past it in UTC
        ({"profileFieldId": {"id": 1}}, "profileFieldId"),
        ({"joined_at": "0001-01-01T00:00:00Z"}, "joined_at"),  # year 0 in New York
        ({"joined_at": "1900-01-01T04:00:00Z"}, "joined_at"),  # 1900 in UTC, 1899 in New York
        ({"joined_at": "2200-01-01T00:00:00-05:00"}, "joined_at"),
        ({"userId": "p1-1067/../x"}, "userId"),
        ({"userId": ".."}, "userId"),
        ({"userId": "a b"}, "userId"),
        ({"userId": "ü1"}, "userId"),
    ],
)
def test_anything_unusual_is_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        ProfileUpdated.model_validate(typical(**changes))

    assert caught.value.errors()[0]["loc"][0] == field


def test_a_missing_value_is_refused_but_a_null_one_is_a_cleared_field():
    with pytest.raises(ValidationError):
        ProfileUpdated.model_validate({k: v for k, v in typical().items() if k != "value"})
    assert ProfileUpdated.model_validate(typical(value=None)).value is None


def test_dates_are_kept_from_1900_to_2200_in_new_york_and_the_refusal_says_so():
    first = ProfileUpdated.model_validate(typical(joined_at="1900-01-01T05:00:00Z"))  # midnight in New York
    last = ProfileUpdated.model_validate(typical(joined_at="2200-01-01T04:59:59Z"))  # 2199 in New York

    assert first.joined_at == datetime(1900, 1, 1, 5, tzinfo=UTC)
    assert last.joined_at == datetime(2200, 1, 1, 4, 59, 59, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        UserRegistered.model_validate({"userId": 12, "date": "0001-01-01T00:00:00Z"})
    error = caught.value.errors()[0]
    assert error["loc"] == ("date",) and "from 1900-01-01 up to 2200-01-01, New York time" in error["msg"]


@pytest.mark.parametrize("user_id", ["2000", "p1-1067", "a.b_c-D", "...a", "x" * 64])
def test_user_ids_of_letters_digits_dash_underscore_and_dot_pass(user_id):
    assert ProfileUpdated.model_validate(typical(userId=user_id)).userId == user_id
