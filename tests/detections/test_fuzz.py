"""Property-based fuzzing of the webhook: whatever arrives, the answer is a JSON 4xx (or a 202),
never a 5xx, and nothing is stored for what was rejected. Derandomized, so CI is repeatable."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detections.models import RawEvent
from tests.conftest import WebhookClient, profile_update, signed_headers

pytestmark = pytest.mark.django_db
# 300 examples per property in `make test`; `make fuzz` runs them with FUZZ_EXAMPLES=5000.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 300)),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
TRICKY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(["\x00", "\u202e", "\ufeff", "𝔘", "\u0301"]),
    max_size=300,
)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY_TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Thousands of requests from one address: the per-IP limits would answer 429 (correctly)."""
    rates = {"unauthenticated": None, "webhook": None}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


FIELDS = [
    "userId",
    "username",
    "profileFieldId",
    "profileField",
    "value",
    "oldValue",
    "country",
    "company",
    "joined_at",
]


def check(response, before: int) -> None:
    assert response.status_code < 500, response.content[:300]
    body = response.json()
    if response.status_code == 202:
        assert body["status"] in {"accepted", "duplicate", "ignored"}
    else:
        assert 400 <= response.status_code < 500 and body["error"] and body["detail"]
        assert RawEvent.objects.count() == before, "a rejected request stored something"


@FUZZ
@given(body=JSON_VALUES)
def test_any_json_document(body):
    before = RawEvent.objects.count()
    check(WebhookClient().post(json.dumps(body)), before)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5), drop=st.sets(st.sampled_from(FIELDS)))
def test_payloads_with_wrong_types_missing_or_odd_fields(changes, drop):
    payload = {**profile_update(), **changes}
    for name in drop:
        payload.pop(name, None)
    before = RawEvent.objects.count()
    check(WebhookClient().post(payload), before)


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_including_non_utf8(raw):
    before = RawEvent.objects.count()
    check(WebhookClient().post(raw), before)


@FUZZ
@given(
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
            "application/json; charset=latin-1",
            "multipart/form-data; boundary=x",
        ]
    ),
    path=st.sampled_from(
        [
            "/webhooks/community",
            "/webhooks/community/integration.UserProfileUpdated",
            "/webhooks/community/IdentityAccess.UserRegistered",
            "/webhooks/community/Unknown.Event",
            "/webhooks/community/%00",
            "/webhooks/community/" + "x" * 300,
        ]
    ),
    authorization=st.one_of(
        st.none(), st.just("Basic !!!"), st.just("Bearer x"), TRICKY_TEXT.map(lambda t: "Basic " + t)
    ),
)
def test_content_types_paths_and_authorization_headers(content_type, path, authorization):
    before = RawEvent.objects.count()
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    client = WebhookClient()
    if authorization is None:
        response = client.client.generic("POST", path, json.dumps(profile_update()), content_type=content_type)
    else:
        response = client.post(profile_update(), path=path, content_type=content_type, **headers)
    check(response, before)


@FUZZ
@given(
    webhook_id=TRICKY_TEXT,
    timestamp=st.one_of(TRICKY_TEXT, st.integers().map(str)),
    signature=st.one_of(TRICKY_TEXT, st.just("v1,"), st.just("v1,AAAA")),
)
def test_signature_headers_are_never_a_crash(webhook_id, timestamp, signature):
    before = RawEvent.objects.count()
    headers = {"HTTP_WEBHOOK_ID": webhook_id, "HTTP_WEBHOOK_TIMESTAMP": timestamp, "HTTP_WEBHOOK_SIGNATURE": signature}
    response = WebhookClient().post(profile_update(), HTTP_AUTHORIZATION="", **headers)

    check(response, before)
    assert response.status_code in (400, 401)


def test_deep_nesting_and_oversized_bodies_are_4xx():
    before = RawEvent.objects.count()
    client = WebhookClient()
    for body in ["[" * 100_000 + "]" * 100_000, json.dumps({**profile_update(), "value": "x" * 70_000})]:
        check(client.post(body), before)


def test_a_signed_fuzzed_body_still_gets_a_json_answer():
    body = json.dumps({**profile_update(), "value": {"nested": ["\x00"]}})
    response = WebhookClient().post(body, HTTP_AUTHORIZATION="", **signed_headers(body))

    assert response.status_code == 400 and response.json()["error"] in {"invalid", "parse_error"}


EDGE_MOMENTS = st.builds(
    lambda year, month, day, hour, offset: f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:59:59{offset}",
    st.sampled_from([1, 2, 1969, 1970, 2038, 9998, 9999]),
    st.sampled_from([1, 2, 12, 13]),
    st.sampled_from([1, 28, 29, 30, 31, 32]),
    st.sampled_from([0, 23, 24]),
    st.sampled_from(["", "Z", "+00:00", "+14:00", "-12:00", "+23:59", "-23:59", ".999999", ".999999+05:30"]),
) | st.sampled_from(["9999-12-31T23:59:59", "0001-01-01T00:00:00+01:00", "0000-01-01T00:00:00", "1e9", "", "T"])


@FUZZ
@given(moment=EDGE_MOMENTS, which=st.sampled_from(["joined_at", "date"]))
def test_dates_at_the_edges_of_the_calendar_are_a_202_or_a_400(moment, which):
    """9999-12-31T23:59:59 without an offset was a 500 (past year 9999 once in UTC)."""
    before = RawEvent.objects.count()
    if which == "joined_at":
        response = WebhookClient().post({**profile_update(), "joined_at": moment})
    else:
        path = "/webhooks/community/IdentityAccess.UserRegistered"
        response = WebhookClient().post({"userId": 12, "date": moment}, path=path)
    check(response, before)
