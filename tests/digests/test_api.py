"""POST /api/digests/send."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from detections.models import SeniorMember
from digests.models import DigestDelivery
from tests.factories import SeniorDetectionFactory

pytestmark = pytest.mark.django_db


def test_anonymous_callers_are_refused():
    response = APIClient().post("/api/digests/send", {}, format="json")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_non_staff_users_are_refused(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    assert client.post("/api/digests/send", {}, format="json").status_code == 403


def test_build_sends_an_extra_digest_and_says_which_detections_went(staff_api, django_capture_on_commit_callbacks):
    went = SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_api.post("/api/digests/send", {"build": True}, format="json")

    assert response.status_code == 202
    body = response.json()
    [digest] = body["digests"]
    assert (digest["kind"], digest["audience"], digest["detection_count"], digest["member_count"]) == (
        "extra",
        "Everyone",
        1,
        1,
    )
    assert (body["sent"], body["left_out"], body["waiting"], body["due"]) == ([went.pk], [], [], 2)
    assert body["next_weekly_at"].endswith(("-05:00", "-04:00"))  # Friday 17:00 New York
    assert DigestDelivery.objects.count() == 2
    assert len(callbacks) >= 1  # the sending task, enqueued after commit


def test_the_reply_lists_what_is_left_out_and_what_waits(staff_api):
    gone = SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=2))
    SeniorMember.objects.filter(user_id=gone.user_id).delete()

    first = staff_api.post("/api/digests/send", {"build": True}, format="json").json()
    later = SeniorDetectionFactory(detected_at=timezone.now())
    status = staff_api.post("/api/digests/send", {}, format="json").json()

    assert first["digests"] == [] and first["left_out"] == [{"id": gone.pk, "reason": "not_senior"}]
    assert status["digests"] == [] and status["sent"] == [] and status["waiting"] == [later.pk]


def test_dead_deliveries_are_revived_on_request(staff_api):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    staff_api.post("/api/digests/send", {"build": True}, format="json")
    DigestDelivery.objects.update(status="dead", attempts=6)

    body = staff_api.post("/api/digests/send", {"resend_dead": True}, format="json").json()

    assert body["resent"] == 2
    assert set(DigestDelivery.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_bad_input_is_a_400(staff_api):
    response = staff_api.post("/api/digests/send", {"build": "perhaps"}, format="json")

    assert response.status_code == 400
    assert "build" in response.json()["fields"]


def test_the_deliveries_say_which_digest_they_belong_to(staff_api):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    sent = staff_api.post("/api/digests/send", {"build": True}, format="json").json()

    rows = staff_api.get("/api/digests").json()["results"]

    assert {(row["digest_id"], row["digest_kind"]) for row in rows} == {(sent["digests"][0]["id"], "extra")}
