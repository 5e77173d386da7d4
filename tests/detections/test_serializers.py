"""The webhook's fast validator agrees with the serializer it stands in for."""

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from detections.parsers import json_body_parse
from detections.serializers import ProfileUpdatedSerializer, profile_update_validate_fast

EXAMPLES = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 1000)), derandomize=True, deadline=None)
TEXT = st.text(max_size=70) | st.sampled_from(["", "  ", " VP ", "a" * 64, "a" * 65, "x" * 256, "x" * 1001, "\x00"])
VALUES = st.none() | st.booleans() | st.integers(min_value=-5, max_value=10**70) | st.floats(allow_nan=False) | TEXT
VALUES = VALUES | st.lists(VALUES, max_size=2) | st.dictionaries(st.text(max_size=3), VALUES, max_size=2)


def typical(**changes) -> dict:
    """A profile update as inSided sends it."""
    payload = {"userId": "7", "username": "Ada", "profileFieldId": "12", "profileField": "Job Title"}
    return {**payload, "value": "VP Sales", "oldValue": "Engineer", **changes}


PAYLOADS = st.dictionaries(
    st.sampled_from(
        ["userId", "username", "profileFieldId", "profileField", "value", "oldValue", "country", "company", "joined_at"]
    ),
    VALUES,
)


def _near_typical(changes: dict, dropped: set) -> dict:
    return {k: v for k, v in typical(**changes).items() if k not in dropped}


# Random payloads, and usual ones with a few fields changed or left out (mostly accepted).
FIELD_NAMES = st.sampled_from([*typical(), "country", "company", "joined_at"])
CHANGES = st.dictionaries(FIELD_NAMES, TEXT | VALUES, max_size=2)
MIXED = PAYLOADS | st.builds(_near_typical, CHANGES, st.sets(FIELD_NAMES, max_size=1))


accepted: list = []


@EXAMPLES
@given(MIXED)
def test_whatever_the_fast_path_accepts_the_serializer_accepts_with_the_same_values(payload):
    try:
        payload = json_body_parse(json.dumps(payload).encode())  # as the webhook sees it
    except ParseError:
        return
    fast = profile_update_validate_fast(payload)
    serializer = ProfileUpdatedSerializer(data=payload)
    valid = serializer.is_valid()
    if fast is None:
        return  # the serializer decides, and words any error
    accepted.append(1)
    assert valid, (payload, serializer.errors)
    assert fast == {name: serializer.validated_data.get(name) for name in fast}


def test_it_takes_the_usual_deliveries():
    assert profile_update_validate_fast(typical()) == {
        "userId": "7",
        "profileField": "Job Title",
        "username": "Ada",
        "value": "VP Sales",
        "oldValue": "Engineer",
    }
    assert profile_update_validate_fast(typical(userId=12, value=None, username=" Ada "))["userId"] == "12"
    assert profile_update_validate_fast(typical(value=None))["value"] is None
    assert profile_update_validate_fast(typical(country="Germany", company=None)) is not None


def test_it_leaves_anything_unusual_to_the_serializer():
    for payload in [
        typical(userId=True),
        typical(userId=" "),
        typical(userId="1" * 65),
        typical(userId=-1),
        typical(profileField=" "),
        typical(value=5),
        typical(oldValue="x" * 1001),
        typical(username=None),
        typical(country=3),
        typical(joined_at="2024-01-01T00:00:00Z"),
        typical(profileFieldId=None),
        {k: v for k, v in typical().items() if k != "value"},
    ]:
        assert profile_update_validate_fast(payload) is None, payload


def test_the_property_saw_payloads_the_fast_path_accepted():
    assert len(accepted) > 50  # runs after the property (file order): it was not vacuous
