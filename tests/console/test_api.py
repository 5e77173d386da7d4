"""The operators' REST API: stats, lists with filters, classification, auth and throttling."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classification.models import Function
from digests import services as digest_services
from digests.services.runs import deliveries_runs_check
from reports import services as report_services
from reports.months import Month
from tests.factories import DetectionFactory, RawEventFactory, SeniorDetectionFactory, SeniorMemberFactory
from tests.fixtures.reports import AFTER_OCTOBER, ny

pytestmark = pytest.mark.django_db

API_GETS = [
    "/api/stats",
    "/api/members",
    "/api/detections",
    "/api/digests",
    "/api/reports",
    "/api/schema/",
]
API_POSTS = ["/api/digests/send", "/api/reports/generate", "/api/classify"]


@pytest.mark.parametrize("url", API_GETS + API_POSTS)
def test_every_api_endpoint_refuses_anonymous_callers(url):
    """The documentation pages send a browser to the login instead (tests/access)."""
    client = APIClient()
    response = client.post(url, {}, format="json") if url in API_POSTS else client.get(url)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize("url", ["/api/stats", "/api/members", "/api/schema/"])
def test_non_staff_tokens_and_bad_tokens_are_refused(django_user_model, url):
    user = django_user_model.objects.create_user("viewer", password="x")
    non_staff, bad = APIClient(), APIClient()
    non_staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert non_staff.get(url).status_code == 403
    assert bad.get(url).status_code == 401


def test_the_admin_session_works_too(admin_client):
    assert admin_client.get("/api/stats").status_code == 200


def test_stats(staff_api, control_room, settings):
    now = timezone.now()
    SeniorMemberFactory(user_id="1", level="vp", function="sales")
    SeniorMemberFactory(user_id="2", level="csuite", function="finance")
    DetectionFactory(user_id="2", detected_at=now - timedelta(days=2), kind="promotion", level="csuite")
    DetectionFactory(user_id="1", detected_at=now - timedelta(days=20))
    RawEventFactory(received_at=now - timedelta(seconds=90))
    digest_services.digest_build_weekly()
    digest_services.deliveries_send_due()
    deliveries_runs_check()  # the fake Control Room's runs complete at once
    report_services.report_generate_month(month=Month.of(now).previous())

    body = staff_api.get("/api/stats").json()

    assert body["members"] == {"total": 2, "vp": 1, "csuite": 1}
    assert {k: v for k, v in body["members_by_function"].items() if v} == {"sales": 1, "finance": 1}
    assert set(body["members_by_function"]) == set(Function.values)
    assert body["detections"] == {
        "last_7_days": 1,
        "last_30_days": 2,
        "promotions_last_30_days": 1,
        "not_yet_in_a_digest": 0,
    }
    assert body["events"]["unprocessed"] == 1 and body["events"]["oldest_unprocessed_age_seconds"] >= 90
    assert body["deliveries"]["sent"] == 2 and body["deliveries"]["dead"] == 0
    assert body["deliveries"]["deployed"] == 0 and body["deliveries"]["oldest_unfinished_run_age_seconds"] is None
    assert set(body["deliveries"]["last_sent_at"]) == {"email", "teams"}
    assert body["latest_report"]["status"] == "ready"
    assert body["rules_version"]


def test_members_filter_search_order_and_paginate(staff_api):
    SeniorMemberFactory(user_id="1", username="Ada", level="vp", company="Acme Corp", country="France")
    SeniorMemberFactory(user_id="2", username="Bo", level="csuite", company="Acme", country="france", title="CEO")
    SeniorMemberFactory(user_id="3", username="Cy", level="csuite", company="Other", country="Spain")

    def ids(query):
        return [m["user_id"] for m in staff_api.get(f"/api/members?{query}").json()["results"]]

    assert ids("level=csuite&ordering=username") == ["2", "3"]
    assert ids("company=acme&ordering=username") == ["1", "2"]
    assert ids("country=FRANCE&ordering=-username") == ["2", "1"]
    assert ids("search=ceo") == ["2"]
    page = staff_api.get("/api/members?page_size=2&ordering=username").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"].endswith("page=2&page_size=2")


def test_detections_filter_by_kind_level_and_new_york_dates(staff_api):
    DetectionFactory(username="Late", detected_at=ny(2026, 10, 31, 23, 30), kind="promotion", level="csuite")
    DetectionFactory(username="Early", detected_at=ny(2026, 11, 1, 0, 30))

    def names(query):
        return [d["username"] for d in staff_api.get(f"/api/detections?{query}").json()["results"]]

    assert names("detected_after=2026-11-01") == ["Early"]
    assert names("detected_before=2026-10-31") == ["Late"]
    assert names("kind=promotion") == ["Late"] and names("level=vp") == ["Early"]
    assert names("ordering=detected_at") == ["Late", "Early"]


@pytest.mark.parametrize(
    "query", ["level=president", "detected_after=yesterday", "kind=other", "page=99", "page_size=abc&page=x"]
)
def test_bad_filters_are_a_4xx_json_error(staff_api, query):
    response = staff_api.get(f"/api/detections?{query}")

    assert response.status_code in (400, 404)
    assert response.json()["error"]


def test_digests_list_with_status_filter(staff_api):
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    digest_services.digest_build_weekly()

    body = staff_api.get("/api/digests?status=pending&channel=teams").json()

    assert body["count"] == 1 and body["results"][0]["channel"] == "teams"
    assert staff_api.get("/api/digests?status=dead").json()["count"] == 0


def test_reports_list_and_download(staff_api, october, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    report_services.report_generate_month(month=Month(2026, 10), now=AFTER_OCTOBER)

    body = staff_api.get("/api/reports").json()
    report = body["results"][0]
    csv_response = staff_api.get(report["files"]["csv"])

    assert (report["month"], report["complete"], report["detection_count"]) == ("2026-10", True, 4)
    assert report["summary"]["detections"]["total"] == 4
    assert (
        b"".join(csv_response.streaming_content).decode("utf-8-sig").count("\n") == 3 + 1 + 4
    )  # "#" rows, column names, 4 detections
    assert staff_api.get(f"/api/reports/{report['id']}/pdf").status_code == 404


def test_classify(staff_api):
    titles = ["EVP & CFO", "Assistant to the CEO", "VP-Sales", "首席財務官"]
    response = staff_api.post("/api/classify", {"titles": titles}, format="json")

    results = response.json()["results"]
    assert [(r["title"], r["level"], r["function"]) for r in results] == [
        ("EVP & CFO", "csuite", "finance"),
        ("Assistant to the CEO", None, None),
        ("VP-Sales", "vp", "sales"),
        ("首席財務官", "csuite", "finance"),
    ]
    assert all(r["rule"] and r["rules_version"] for r in results)


@pytest.mark.parametrize(
    "body",
    [{}, {"titles": []}, {"titles": "CEO"}, {"titles": [1]}, {"titles": ["x"] * 1001}, {"titles": ["x" * 10_001]}],
)
def test_classify_rejects_bad_input(staff_api, body):
    response = staff_api.post("/api/classify", body, format="json")

    fields = response.json()["fields"]
    assert response.status_code == 400 and {name.split(".")[0] for name in fields} == {"titles"}


def test_api_token_command_creates_and_rotates(admin_user, capsys):
    call_command("api_token", admin_user.username)
    first = capsys.readouterr().out.strip()
    call_command("api_token", admin_user.username, "--rotate")
    second = capsys.readouterr().out.strip()

    assert first != second and Token.objects.get(user=admin_user).key == second
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.get("/api/stats").status_code == 401


def test_api_token_refuses_non_staff(django_user_model):
    django_user_model.objects.create_user("viewer", password="x")

    with pytest.raises(Exception, match="not an active staff user"):
        call_command("api_token", "viewer")


def test_the_schema_is_valid_openapi():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_schema_describes_the_webhook_and_every_endpoint(staff_api):
    import yaml

    schema = yaml.safe_load(staff_api.get("/api/schema/").content)

    assert {
        "/webhooks/community",
        "/webhooks/community/{event_name}",
        "/api/stats",
        "/api/members",
        "/api/detections",
        "/api/digests",
        "/api/digests/send",
        "/api/reports",
        "/api/reports/generate",
        "/api/classify",
    } <= set(schema["paths"])
    webhook = schema["paths"]["/webhooks/community"]["post"]
    assert {"202", "400", "401", "413", "415", "429"} <= set(webhook["responses"])
    assert {"webhookBasic", "standardWebhooks", "tokenAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_schema_describes_what_stats_returns(staff_api):
    import yaml

    schema = yaml.safe_load(staff_api.get("/api/schema/").content)["components"]["schemas"]
    body = staff_api.get("/api/stats").json()

    assert set(schema["StatsOutput"]["properties"]) == set(body)
    assert set(schema["StatsOutputMembers"]["properties"]) == set(body["members"])
    assert set(schema["StatsOutputDeliveries"]["properties"]) == set(body["deliveries"])
    assert body["latest_report"] is None  # nothing generated yet: the schema allows null
    assert {"type": "null"} in schema["StatsOutput"]["properties"]["latest_report"]["oneOf"]  # OpenAPI 3.1
