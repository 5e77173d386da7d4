"""The webhook endpoint: formats, authentication, bad input, idempotency."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from detections.models import RawEvent, SeniorMember
from tests.conftest import basic_auth_header, profile_update, signed_headers

pytestmark = pytest.mark.django_db


def test_profile_update_is_stored_and_accepted(webhook):
    response = webhook.post(profile_update(user_id="2000", value="VP of Sales"))

    assert response.status_code == 202
    event = RawEvent.objects.get()
    assert response.json() == {"status": "accepted", "event_id": event.id}
    assert (event.user_id, event.field, event.value, event.old_value) == (
        "2000",
        "Job Title",
        "VP of Sales",
        "Sales Manager",
    )
    assert event.field_role == "job_title"
    assert event.event_type == "integration.UserProfileUpdated"
    assert event.payload["profileFieldId"] == "123"
    assert event.processed_at is None  # processing happens in the worker, not the request


def test_every_delivery_takes_the_one_view_ahead_of_the_browser_middleware(webhook):
    accepted = webhook.post(profile_update(user_id="31", value="CFO"), HTTP_X_REQUEST_ID="trace-1")
    duplicate = webhook.post(profile_update(user_id="31", value="CFO"))
    ignored = webhook.post(profile_update(user_id="31", field="Favourite colour"))
    invalid = webhook.post(profile_update(user_id="31", value=5), HTTP_X_REQUEST_ID="trace-2")
    unauthenticated = webhook.post(profile_update(user_id="32"), HTTP_AUTHORIZATION="Basic eDp5")

    assert [r.json()["status"] for r in (accepted, duplicate, ignored)] == ["accepted", "duplicate", "ignored"]
    assert accepted.content == f'{{"status":"accepted","event_id":{accepted.json()["event_id"]}}}'.encode()
    assert (invalid.status_code, unauthenticated.status_code) == (400, 401)
    assert invalid.json()["fields"] == {"value": ["Input should be a valid string."]}
    for response in (accepted, duplicate, ignored, invalid, unauthenticated):
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware ran
        assert "X-Frame-Options" not in response  # the browser middleware after the webhook's did not
        assert response.wsgi_request.resolver_match.view_name in {"webhook-community"}
    assert (accepted["X-Request-ID"], invalid["X-Request-ID"]) == ("trace-1", "trace-2")
    assert RawEvent.objects.count() == 1


def test_an_unexpected_error_is_a_json_500_and_counted(monkeypatch):
    from django.test import Client
    from prometheus_client import REGISTRY

    from detections import webhook

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(webhook, "event_receive", broken)
    labels = {"type": "RuntimeError"}
    before = REGISTRY.get_sample_value("django_http_exceptions_total_by_type_total", labels) or 0
    client = Client(raise_request_exception=False)
    response = client.post(
        "/webhooks/community", profile_update(user_id="34"), "application/json", HTTP_AUTHORIZATION=basic_auth_header()
    )

    assert response.status_code == 500 and response.json()["error"] == "server_error"
    assert REGISTRY.get_sample_value("django_http_exceptions_total_by_type_total", labels) == before + 1
    assert not RawEvent.objects.exists()


def test_event_name_in_url_selects_the_format(webhook):
    explicit = webhook.post(profile_update(user_id="1"), path="/webhooks/community/integration.UserProfileUpdated")
    registered = webhook.post(
        {"userId": 12, "date": "2019-10-10T16:07:21+02:00"}, path="/webhooks/community/IdentityAccess.UserRegistered"
    )

    assert explicit.status_code == registered.status_code == 202
    event = RawEvent.objects.get(pk=registered.json()["event_id"])
    assert (event.event_type, event.user_id, event.field) == ("IdentityAccess.UserRegistered", "12", "")


def test_integer_user_id_is_accepted_as_text(webhook):
    response = webhook.post(profile_update(user_id=77))

    assert response.status_code == 202
    assert RawEvent.objects.get().user_id == "77"


def test_redelivery_is_a_duplicate(webhook):
    first = webhook.post(profile_update())
    second = webhook.post(profile_update())

    assert second.status_code == 202
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert RawEvent.objects.count() == 1


def test_same_delivery_id_is_a_duplicate_even_with_other_content(webhook):
    body = json.dumps(profile_update(value="VP of Sales"))
    first = webhook.post(body, HTTP_AUTHORIZATION="", **signed_headers(body, msg_id="msg_42"))
    body2 = json.dumps(profile_update(value="CEO"))
    second = webhook.post(body2, HTTP_AUTHORIZATION="", **signed_headers(body2, msg_id="msg_42"))

    assert first.json()["status"] == "accepted"
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert RawEvent.objects.get().delivery_id == "msg_42"


def test_change_back_is_not_a_duplicate(webhook):
    statuses = [
        webhook.post(profile_update(value="VP of Sales", old_value="Sales Manager")).json()["status"],
        webhook.post(profile_update(value="Engineer", old_value="VP of Sales")).json()["status"],
        webhook.post(profile_update(value="VP of Sales", old_value="Engineer")).json()["status"],
    ]

    assert statuses == ["accepted", "accepted", "accepted"]
    assert RawEvent.objects.count() == 3


def test_untracked_field_is_ignored_and_not_stored(webhook):
    response = webhook.post(profile_update(field="Favourite Colour", value="Blue"))

    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "event_id": None}
    assert not RawEvent.objects.exists()


def test_inactive_tracked_field_is_ignored(webhook):
    from detections.models import TrackedField

    TrackedField.objects.filter(name="Job Title").update(is_active=False)

    assert webhook.post(profile_update()).json()["status"] == "ignored"
    assert not RawEvent.objects.exists()


def test_country_change_of_someone_not_senior_is_stored_for_processing_to_decide(webhook):
    # inSided sends a profile save's fields one by one: the title may come next.
    response = webhook.post(profile_update(field="Country", value="France", old_value=""))

    assert response.json()["status"] == "accepted"
    assert RawEvent.objects.get().field_role == "country"


@pytest.mark.parametrize("field,limit", [("Company", 255), ("Country", 255)])
def test_a_value_longer_than_its_column_is_refused_at_the_door(webhook, field, limit):
    too_long = webhook.post(profile_update(field=field, value="x" * (limit + 1)))
    fits = webhook.post(profile_update(field=field, value=" " + "x" * limit + " "))

    assert too_long.status_code == 400
    assert too_long.json()["fields"] == {"value": [f"Must be at most {limit} characters for a {field} field."]}
    assert fits.status_code == 202 and RawEvent.objects.count() == 1


def test_a_long_title_fits_its_text_column(webhook):
    assert webhook.post(profile_update(value="Vice President " + "x" * 900)).status_code == 202


def test_country_change_of_a_senior_member_is_stored(webhook, member_factory):
    member_factory(user_id="2000")

    response = webhook.post(profile_update(user_id="2000", field="Country", value="France", old_value=""))

    assert response.json()["status"] == "accepted"
    assert RawEvent.objects.get().field_role == "country"


# --- authentication ---------------------------------------------------------------------------


def test_basic_auth_missing_is_401_and_nothing_stored(webhook):
    response = webhook.post(profile_update(), HTTP_AUTHORIZATION="")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize(
    "header",
    [
        basic_auth_header(password="wrong"),
        basic_auth_header(username="someone-else"),
        "Basic not-base64!!",
        "Basic " + "w7/Dvw==",  # not UTF-8 once decoded
        "Bearer abc",
    ],
)
def test_bad_basic_credentials_are_401(webhook, header):
    response = webhook.post(profile_update(), HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"] in {"authentication_failed", "not_authenticated"}
    assert not RawEvent.objects.exists()


def test_standard_webhooks_signature_is_accepted(webhook):
    body = json.dumps(profile_update())

    response = webhook.post(body, HTTP_AUTHORIZATION="", **signed_headers(body))

    assert response.status_code == 202
    assert RawEvent.objects.get().delivery_id == "msg_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace("VP", "CEO"), headers),  # body changed after signing
        lambda body, headers: (body, {**headers, "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA"}),
        lambda body, headers: (body, {**headers, "HTTP_WEBHOOK_SIGNATURE": "garbage"}),
        lambda body, headers: (body, {**headers, "HTTP_WEBHOOK_TIMESTAMP": "not-a-number"}),
        lambda body, headers: (body, signed_headers(body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUA==")),
        lambda body, headers: (body, signed_headers(body, timestamp=datetime.now(tz=UTC) - timedelta(minutes=6))),
        lambda body, headers: (body, signed_headers(body, timestamp=datetime.now(tz=UTC) + timedelta(minutes=6))),
    ],
    ids=["body-changed", "wrong-signature", "garbage-signature", "bad-timestamp", "other-secret", "replayed", "future"],
)
def test_bad_signatures_are_401_and_nothing_stored(webhook, tamper):
    body = json.dumps(profile_update())
    body, headers = tamper(body, signed_headers(body))

    response = webhook.post(body, HTTP_AUTHORIZATION="", **headers)

    assert response.status_code == 401
    assert response.json() == {"error": "authentication_failed", "detail": "Invalid or expired webhook signature."}
    assert not RawEvent.objects.exists()


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_the_basic_scheme_is_case_insensitive(webhook, scheme):
    response = webhook.post(profile_update(), HTTP_AUTHORIZATION=basic_auth_header().replace("Basic", scheme))

    assert response.status_code == 202


def test_valid_basic_credentials_admit_a_delivery_whose_signature_is_bad(webhook):
    body = json.dumps(profile_update())

    response = webhook.post(body, **{**signed_headers(body), "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA"})

    assert response.status_code == 202


def test_a_valid_signature_admits_a_delivery_whose_basic_credentials_are_wrong(webhook):
    body = json.dumps(profile_update())

    response = webhook.post(body, HTTP_AUTHORIZATION=basic_auth_header(password="wrong"), **signed_headers(body))

    assert response.status_code == 202


def test_when_every_method_fails_both_are_named(webhook):
    body = json.dumps(profile_update())
    headers = {**signed_headers(body), "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA"}

    response = webhook.post(body, HTTP_AUTHORIZATION=basic_auth_header(password="wrong"), **headers)

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or expired webhook signature. Invalid Basic credentials."
    assert not RawEvent.objects.exists()


def test_no_auth_configured_refuses_to_start_without_debug(settings):
    from django.core.exceptions import ImproperlyConfigured

    from detections.authentication import webhook_auth_assert_configured

    settings.WEBHOOK_BASIC_AUTH_USERNAME = settings.WEBHOOK_BASIC_AUTH_PASSWORD = settings.WEBHOOK_SIGNING_SECRET = ""
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="No webhook authentication configured"):
        webhook_auth_assert_configured()

    settings.DEBUG = True
    webhook_auth_assert_configured()  # development may run open


# --- bad input --------------------------------------------------------------------------------

BAD_INPUTS = {
    "malformed-json": ('{"userId": "1",', "application/json", 400, "parse_error"),
    "empty-body": ("", "application/json", 400, "parse_error"),
    "json-array": ("[1, 2]", "application/json", 400, "parse_error"),
    "wrong-content-type": ("userId=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    "text-plain": (json.dumps(profile_update()), "text/plain", 415, "unsupported_media_type"),
    "missing-user-id": (json.dumps({"profileField": "Job Title", "value": "CEO"}), "application/json", 400, "invalid"),
    "empty-user-id": (json.dumps(profile_update(user_id="  ")), "application/json", 400, "invalid"),
    "boolean-user-id": (json.dumps(profile_update(user_id=True)), "application/json", 400, "invalid"),
    "object-user-id": (json.dumps(profile_update(user_id={"a": 1})), "application/json", 400, "invalid"),
    "long-user-id": (json.dumps(profile_update(user_id="9" * 65)), "application/json", 400, "invalid"),
    "numeric-value": (json.dumps(profile_update(value=42)), "application/json", 400, "invalid"),
    "list-value": (json.dumps(profile_update(value=["CEO"])), "application/json", 400, "invalid"),
    "missing-field": (json.dumps({"userId": "1", "value": "CEO"}), "application/json", 400, "invalid"),
    "nul-character": (json.dumps(profile_update(value="CE\u0000O")), "application/json", 400, "parse_error"),
    "lone-surrogate": (
        '{"userId": "1", "profileField": "Job Title", "value": "\\ud800"}',
        "application/json",
        400,
        "parse_error",
    ),
    "deep-nesting": ('{"userId": "1", "x": ' + "[" * 5000 + "]" * 5000 + "}", "application/json", 400, "parse_error"),
    "nan": ('{"userId": "1", "profileField": "Job Title", "value": NaN}', "application/json", 400, "parse_error"),
    "not-utf8": (b'{"userId": "\xff\xfe"}', "application/json", 400, "parse_error"),
    "oversized": (json.dumps(profile_update(value="x" * 70_000)), "application/json", 413, "payload_too_large"),
    "bad-joined-at": (json.dumps(profile_update(joined_at="yesterday")), "application/json", 400, "invalid"),
}


@pytest.mark.parametrize("body,content_type,status,error", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_a_4xx_json_error_and_nothing_is_stored(webhook, body, content_type, status, error):
    response = webhook.post(body, content_type=content_type)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert not RawEvent.objects.exists()


def test_invalid_field_errors_name_the_fields(webhook):
    response = webhook.post({"userId": "", "profileField": "Job Title", "value": 3})

    assert set(response.json()["fields"]) == {"userId", "value"}


def test_unknown_event_name_is_404(webhook):
    response = webhook.post(profile_update(), path="/webhooks/community/integration.Unknown")

    assert response.status_code == 404
    assert "integration.Unknown" in response.json()["detail"]
    assert not RawEvent.objects.exists()


def test_get_is_405_json(webhook):
    response = webhook.client.get("/webhooks/community", HTTP_AUTHORIZATION=basic_auth_header())

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_url_is_404_json(webhook):
    response = webhook.post(profile_update(), path="/webhooks/nope")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_declared_content_length_over_the_limit_is_413(webhook):
    response = webhook.post(profile_update(), CONTENT_LENGTH="10000000")

    assert response.status_code == 413
    assert not RawEvent.objects.exists()


def test_over_long_delivery_id_is_400(webhook):
    body = json.dumps(profile_update())

    response = webhook.post(body, HTTP_AUTHORIZATION="", **signed_headers(body, msg_id="m" * 300))

    assert response.status_code == 400
    assert not RawEvent.objects.exists()


def test_cleared_title_is_accepted(webhook):
    response = webhook.post(profile_update(value=None))

    assert response.status_code == 202
    assert RawEvent.objects.get().value == ""


def test_nothing_is_stored_for_a_member_that_is_senior_via_payload_only(webhook):
    # Country/company in the payload ride along with the title; they do not make a member.
    webhook.post(profile_update(value="Engineer", country="France", company="Acme"))

    assert not SeniorMember.objects.exists()


# --- dates, user ids and the Host header -------------------------------------------------------


def test_a_joined_date_of_year_one_is_refused_naming_the_field(webhook):
    updated = webhook.post(profile_update(joined_at="0001-01-01T00:00:00Z"))
    registered = webhook.post(
        {"userId": 12, "date": "0001-01-01T00:00:00Z"}, path="/webhooks/community/IdentityAccess.UserRegistered"
    )

    assert (updated.status_code, registered.status_code) == (400, 400)
    assert updated.json()["fields"] == {"joined_at": ["Must be from 1900-01-01 up to 2200-01-01, New York time."]}
    assert list(registered.json()["fields"]) == ["date"]
    assert not RawEvent.objects.exists()


def test_a_user_id_that_is_a_path_is_refused_naming_the_field(webhook):
    response = webhook.post(profile_update(user_id="p1-1067/../x"))

    assert response.status_code == 400
    assert response.json()["fields"] == {"userId": ["Must be letters, digits, '-', '_' and '.' (not only dots)."]}
    assert not RawEvent.objects.exists()


def test_a_host_outside_allowed_hosts_is_a_json_400_and_nothing_is_stored(webhook):
    response = webhook.post(profile_update(user_id="2001"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "disallowed_host"
    assert not RawEvent.objects.exists()


def test_the_host_is_checked_first_before_anything_reads_the_body(webhook):
    # A delivery that is also too large: its size (413) is the first check of the body, made
    # from its Content-Length before the body is read.
    oversized = webhook.post(profile_update(), CONTENT_LENGTH="10000000", HTTP_HOST="evil.example")
    allowed = webhook.post(profile_update(), HTTP_HOST="localhost")

    assert (oversized.status_code, oversized.json()["error"]) == (400, "disallowed_host")
    assert allowed.status_code == 202
