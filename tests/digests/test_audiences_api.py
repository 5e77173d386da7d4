"""/api/audiences: create, read, update, delete, with clear errors and nothing in flight lost silently."""

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import AuditEntry
from digests import services
from digests.models import Audience, DigestDelivery
from digests.services.runs import deliveries_runs_check_and_send
from tests.factories import AudienceFactory, SeniorDetectionFactory

pytestmark = pytest.mark.django_db

EMEA = {"name": "EMEA", "countries": ["DE", "GB"], "email_to": ["emea@example.com"]}


def test_an_operator_creates_an_audience_and_reads_it_back(staff_api):
    SeniorDetectionFactory(country="Germany")

    created = staff_api.post("/api/audiences", {**EMEA, "cadence": "both", "levels": ["csuite"]}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["countries"], body["cadence"], body["levels"]) == (["DE", "GB"], "both", ["csuite"])
    read = staff_api.get(f"/api/audiences/{body['id']}").json()
    assert read["email_to"] == ["emea@example.com"] and read["has_teams_webhook"] is False
    assert AuditEntry.objects.filter(action="audience.create", via="api").count() == 1


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({**EMEA, "levels": ["ceo"]}, "levels", "not a valid choice"),
        ({**EMEA, "functions": ["finance", "treasury"]}, "functions", '"treasury" is not a valid choice'),
        ({**EMEA, "functions": "finance"}, "functions", "Expected a list"),
        ({**EMEA, "kinds": ["demotion"]}, "kinds", "not a valid choice"),
        ({**EMEA, "countries": ["DE", "XX"]}, "countries", "Unknown country codes (ISO 3166-1 alpha-2): XX."),
        ({**EMEA, "email_to": []}, "email_to", "an audience needs a channel"),
        ({**EMEA, "email_to": ["not-an-address"]}, "email_to", "valid email"),
        ({**EMEA, "teams_webhook_url": "http://example.com/hook"}, "teams_webhook_url", "must be an https://"),
        ({**EMEA, "cadence": "hourly"}, "cadence", "not a valid choice"),
        ({**EMEA, "alerts_per_hour": 0}, "alerts_per_hour", "greater than or equal to 1"),
    ],
)
def test_bad_input_is_a_400_that_names_the_field(staff_api, body, field, says):
    response = staff_api.post("/api/audiences", body, format="json")

    assert response.status_code == 400
    fields = response.json()["fields"]  # a list's item is named by its index: levels.0
    named = [key for key in fields if key == field or key.startswith(f"{field}.")]
    assert named, fields
    assert says in str(fields[named[0]])
    assert not Audience.objects.filter(name="EMEA").exists()


def test_companies_past_the_limit_are_a_400_naming_the_limit(staff_api, settings):
    settings.AUDIENCE_COMPANIES_MAX = 3

    response = staff_api.post("/api/audiences", {**EMEA, "companies": ["a", "b", "c", "d"]}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["companies"] == [
        "At most 3 companies or domains per audience (AUDIENCE_COMPANIES_MAX); this has 4."
    ]
    assert not Audience.objects.filter(name="EMEA").exists()


def test_audiences_past_the_limit_are_a_400_and_a_deleted_one_frees_a_place(staff_api, settings):
    settings.AUDIENCES_MAX = 2  # "Everyone" is one
    staff_api.post("/api/audiences", {**EMEA, "name": "Second"}, format="json")

    refused = staff_api.post("/api/audiences", EMEA, format="json")
    second = Audience.objects.get(name="Second")
    renamed = staff_api.patch(f"/api/audiences/{second.pk}", {"name": "Second, renamed"}, format="json")
    staff_api.delete(f"/api/audiences/{second.pk}")
    accepted = staff_api.post("/api/audiences", EMEA, format="json")

    assert refused.status_code == 400
    assert refused.json()["fields"]["name"] == ["At most 2 audiences (AUDIENCES_MAX): delete one first."]
    assert renamed.status_code == 200  # an audience that exists is not counted against itself
    assert accepted.status_code == 201


def test_a_filter_that_matches_nobody_is_saved_with_a_warning(staff_api):
    SeniorDetectionFactory(country="Germany")

    body = staff_api.post("/api/audiences", {**EMEA, "countries": ["JP"]}, format="json").json()

    assert body["warnings"] == [
        "No current senior member matches this filter: it will get nothing until one does. "
        "Check the functions, the countries and the company names or domains."
    ]


def test_the_teams_webhook_is_write_only(staff_api):
    url = "https://example.webhook.office.com/workflows/x?sig=SECRET"
    body = staff_api.post("/api/audiences", {**EMEA, "teams_webhook_url": url}, format="json").json()

    assert "SECRET" not in str(body) and body["has_teams_webhook"] is True
    assert "SECRET" not in str(staff_api.get("/api/audiences").json())


def test_an_update_changes_the_filter_and_is_audited(staff_api):
    audience = AudienceFactory(name="EMEA", countries=["DE"])

    response = staff_api.patch(f"/api/audiences/{audience.pk}", {"countries": ["DE", "FR"]}, format="json")

    assert response.status_code == 200 and response.json()["countries"] == ["DE", "FR"]
    assert AuditEntry.objects.filter(action="audience.change").exists()


def _audience_with_deliveries():
    audience = AudienceFactory(name="EMEA", countries=["DE"])
    SeniorDetectionFactory(country="Germany", detected_at=timezone.now() - timedelta(hours=1))
    services.digest_build_extra(audience_ids=[audience.pk])
    return audience


def test_deleting_an_audience_with_deliveries_in_flight_is_refused_until_asked_to_cancel(staff_api):
    audience = _audience_with_deliveries()

    refused = staff_api.delete(f"/api/audiences/{audience.pk}")
    deleted = staff_api.delete(f"/api/audiences/{audience.pk}?cancel_in_flight=true")

    assert refused.status_code == 409 and refused.json()["code"] == "deliveries_in_flight"
    assert "has 1 deliveries in flight" in refused.json()["detail"]
    assert deleted.status_code == 200 and deleted.json()["archived"] is True
    delivery = DigestDelivery.objects.get(digest__audience=audience)
    assert delivery.status == "cancelled" and "the audience 'EMEA' was deleted by" in delivery.last_error
    assert staff_api.get(f"/api/audiences/{audience.pk}").status_code == 404
    assert [a["name"] for a in staff_api.get("/api/audiences").json()["results"]] == ["Everyone"]
    assert deliveries_runs_check_and_send()[1].deployed == []  # a cancelled delivery is never sent
    assert services.deliveries_resend(user=None, via="admin", delivery_ids=[delivery.pk]) == 0


def test_an_audience_without_digests_is_removed(staff_api):
    audience = AudienceFactory(name="Unused")

    response = staff_api.delete(f"/api/audiences/{audience.pk}")

    assert response.json() == {"archived": False, "cancelled": [], "finishing": []}
    assert not Audience.objects.filter(pk=audience.pk).exists()


def test_a_delivery_of_a_deleted_audience_that_fails_later_is_cancelled_not_retried(staff_api):
    audience = _audience_with_deliveries()
    DigestDelivery.objects.filter(digest__audience=audience).update(status="deployed")  # with the bot
    staff_api.delete(f"/api/audiences/{audience.pk}?cancel_in_flight=true")
    DigestDelivery.objects.filter(digest__audience=audience).update(status="retrying")  # its run failed

    services.deliveries_send_due()

    assert DigestDelivery.objects.get(digest__audience=audience).status == "cancelled"
    assert staff_api.post("/api/digests/send", {"resend_dead": True}, format="json").json()["resent"] == 0


def test_extra_digests_for_chosen_audiences_only_with_build_and_only_weekly_ones(staff_api):
    alerts_only = AudienceFactory(name="Alerts", cadence="realtime")
    weekly = AudienceFactory(name="Weekly")

    without_build = staff_api.post("/api/digests/send", {"audiences": [weekly.pk]}, format="json")
    realtime = staff_api.post("/api/digests/send", {"build": True, "audiences": [alerts_only.pk]}, format="json")

    assert without_build.status_code == 400 and "Only with build" in str(without_build.json()["fields"])
    assert realtime.status_code == 400 and "audiences" in str(realtime.json()["fields"])


def test_an_audience_filtered_by_function_is_created_read_back_and_changed(staff_api):
    SeniorDetectionFactory(country="Germany", level="csuite", title="CFO", function="finance")

    created = staff_api.post("/api/audiences", {**EMEA, "functions": ["finance", "legal"]}, format="json")
    audience = Audience.objects.get(name="EMEA")
    read = staff_api.get(f"/api/audiences/{audience.pk}").json()
    changed = staff_api.patch(f"/api/audiences/{audience.pk}", {"functions": ["sales"]}, format="json")
    cleared = staff_api.patch(f"/api/audiences/{audience.pk}", {"functions": []}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["functions"] == ["finance", "legal"] and created.json()["warnings"] == []
    assert read["functions"] == ["finance", "legal"]
    assert changed.status_code == 200 and changed.json()["functions"] == ["sales"]
    assert "No current senior member matches this filter" in changed.json()["warnings"][0]
    assert cleared.json()["functions"] == [] and cleared.json()["warnings"] == []  # none: every function
    audience.refresh_from_db()
    assert audience.functions == []


def test_an_unknown_function_names_the_functions_there_are(staff_api):
    response = staff_api.post("/api/audiences", {**EMEA, "functions": ["ceo"]}, format="json")

    assert response.status_code == 400
    (message,) = response.json()["fields"]["functions.0"]
    assert message.startswith('"ceo" is not a valid choice: the functions are general, sales, marketing, finance,')
