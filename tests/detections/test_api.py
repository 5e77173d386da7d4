"""GET /api/members[/<user_id>] and GET /api/detections: rows stored out of range, and user ids."""

from datetime import UTC, datetime

import pytest

from detections.models import Detection, SeniorMember
from tests.factories import DetectionFactory, SeniorMemberFactory, joined_at_stored_raw

pytestmark = pytest.mark.django_db
JOINED = datetime(2019, 10, 10, 14, 7, 21, tzinfo=UTC)


@pytest.fixture
def year_one_rows():
    """Two members and their detections; one of each joined on 0001-01-01T00:00:00Z (year 0 in New York)."""
    for user_id in ("3001", "3002"):
        SeniorMemberFactory(user_id=user_id, joined_at=JOINED)
        DetectionFactory(user_id=user_id, joined_at=JOINED)
    joined_at_stored_raw(SeniorMember, "3001", "0001-01-01T00:00:00Z")
    joined_at_stored_raw(Detection, "3001", "0001-01-01T00:00:00Z")


def by_user(response) -> dict:
    return {row["user_id"]: row for row in response.json()["results"]}


def test_a_member_stored_out_of_range_is_listed_with_its_date_invalid_and_the_rest_as_usual(staff_api, year_one_rows):
    members = staff_api.get("/api/members")
    member = staff_api.get("/api/members/3001")

    assert members.status_code == member.status_code == 200
    rows = by_user(members)
    assert (rows["3001"]["joined_at"], rows["3001"]["invalid_dates"]) == (None, ["joined_at"])
    assert (rows["3002"]["joined_at"], rows["3002"]["invalid_dates"]) == ("2019-10-10T10:07:21-04:00", [])
    assert member.json()["invalid_dates"] == ["joined_at"]


def test_a_detection_stored_out_of_range_is_listed_with_its_date_invalid(staff_api, year_one_rows):
    detections = staff_api.get("/api/detections")

    assert detections.status_code == 200
    rows = by_user(detections)
    assert (rows["3001"]["joined_at"], rows["3001"]["invalid_dates"]) == (None, ["joined_at"])
    assert rows["3002"]["joined_at"] == "2019-10-10T10:07:21-04:00"


def test_a_user_id_outside_the_safe_set_is_a_400_naming_the_field(staff_api):
    SeniorMemberFactory(user_id="p1-1067")
    message = ["Must be letters, digits, '-', '_' and '.' (not only dots)."]

    filtered = staff_api.get("/api/detections", {"user_id": "p1-1067/../x"})
    looked_up = staff_api.get("/api/members/..")

    assert (filtered.status_code, filtered.json()["fields"]) == (400, {"user_id": message})
    assert (looked_up.status_code, looked_up.json()["fields"]) == (400, {"user_id": message})
    assert staff_api.get("/api/members/p1-1067").status_code == 200


def test_members_and_detections_carry_their_function_and_filter_by_it(staff_api):
    SeniorMemberFactory(user_id="4001", title="Chief Financial Officer", level="csuite", function="finance")
    SeniorMemberFactory(user_id="4002", title="VP of Sales", function="sales")
    DetectionFactory(user_id="4001", title="Chief Financial Officer", level="csuite", function="finance")
    DetectionFactory(user_id="4002", title="VP of Sales", function="sales")

    members = staff_api.get("/api/members", {"function": "finance"})
    detections = staff_api.get("/api/detections", {"function": "sales", "level": "vp"})
    everyone = staff_api.get("/api/members")

    assert [(row["user_id"], row["function"]) for row in members.json()["results"]] == [("4001", "finance")]
    assert [(row["user_id"], row["function"]) for row in detections.json()["results"]] == [("4002", "sales")]
    assert {row["function"] for row in everyone.json()["results"]} == {"finance", "sales"}


def test_an_unknown_function_is_a_400_naming_the_field_as_an_unknown_level_is(staff_api):
    for path in ("/api/members", "/api/detections"):
        function = staff_api.get(path, {"function": "sorcery"})
        level = staff_api.get(path, {"level": "boss"})

        assert function.status_code == level.status_code == 400
        assert function.json()["error"] == level.json()["error"] == "invalid"
        assert list(function.json()["fields"]) == ["function"] and list(level.json()["fields"]) == ["level"]
        assert "sorcery" in function.json()["fields"]["function"][0]
