"""The CRM hand-offs in the admin, the API, /api/stats, /metrics and crm_sync."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from access.models import AuditEntry
from crm.models import Handoff
from crm.services import handoffs
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def crm(settings, salesforce):
    settings.CRM_HANDOFF_ENABLED = True
    settings.CRM_TASKS_PER_SECOND = 50
    settings.COMMUNITY_API_URL = ""
    yield salesforce


def executive(user_id, username, company, email_domain=""):
    SeniorMemberFactory(user_id=user_id, username=username, level="csuite", company=company, email_domain=email_domain)
    return DetectionFactory(user_id=user_id, username=username, title="CEO", level="csuite", company=company)


@pytest.fixture
def three_outcomes(salesforce):
    """One Task created (Acme), one failed (a validation rule), one ambiguous (two Globex accounts)."""
    salesforce.account_add("Acme", website="acme.com")
    salesforce.account_add("Initech", website="initech.com")
    salesforce.account_add("Globex Inc", website="globex.com")
    salesforce.account_add("Globex Ltd", website="globex.co.uk")
    salesforce.reject_when(lambda f: "Initech" in f.get("Description", ""), "Initech tasks are closed", ["WhatId"])
    executive("1", "Jane Roe", "Acme", "acme.com")
    executive("2", "Bill Lumbergh", "Initech", "initech.com")
    executive("3", "Hank Scorpio", "Globex")
    handoffs.handoffs_find()
    handoffs.handoffs_run_due(budget_seconds=None)
    return {h.status: h for h in Handoff.objects.select_related("detection")}


def test_the_list_shows_each_handoff_its_task_and_its_error(admin_client, three_outcomes):
    page = admin_client.get(reverse("admin:crm_handoff_changelist")).content.decode()

    created = three_outcomes["created"]
    assert f'href="{created.task_url}"' in page and created.task_id in page
    assert "Initech tasks are closed" in page and "FIELD_CUSTOM_VALIDATION_EXCEPTION" in page
    assert reverse("admin:crm_handoff_pick", args=[three_outcomes["ambiguous"].pk]) in page
    assert set(three_outcomes) == {"created", "failed", "ambiguous"}


def test_an_operator_picks_the_account_and_the_pick_is_audited(admin_client, three_outcomes, salesforce):
    ambiguous = three_outcomes["ambiguous"]
    url = reverse("admin:crm_handoff_pick", args=[ambiguous.pk])
    page = admin_client.get(url).content.decode()
    chosen = ambiguous.candidates[1]["Id"]
    assert 'type="radio"' in page and "Globex Inc" in page and "Globex Ltd" in page

    response = admin_client.post(url, {"account": chosen})

    assert response.status_code == 302
    ambiguous.refresh_from_db()
    assert (ambiguous.status, ambiguous.account_id) == ("pending", chosen)
    assert AuditEntry.objects.filter(action="crm.pick_account").count() == 1


def test_an_account_that_was_not_a_candidate_is_refused_by_the_form(admin_client, three_outcomes):
    url = reverse("admin:crm_handoff_pick", args=[three_outcomes["ambiguous"].pk])

    page = admin_client.post(url, {"account": "001000000000XYZ"}).content.decode()

    assert "Select a valid choice" in page
    assert Handoff.objects.get(pk=three_outcomes["ambiguous"].pk).status == "ambiguous"


def test_a_viewer_sees_the_handoffs_but_may_neither_pick_nor_retry(django_user_model, three_outcomes):
    viewer = django_user_model.objects.create_user("viewer", password="pw-For-Tests-1", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Viewers"))
    client = Client()
    client.force_login(viewer)
    failed = three_outcomes["failed"]

    assert client.get(reverse("admin:crm_handoff_changelist")).status_code == 200
    pick = reverse("admin:crm_handoff_pick", args=[three_outcomes["ambiguous"].pk])
    assert client.post(pick, {"account": three_outcomes["ambiguous"].candidates[0]["Id"]}).status_code == 403
    client.post(reverse("admin:crm_handoff_changelist"), {"action": "retry", "_selected_action": [failed.pk]})
    assert Handoff.objects.get(pk=failed.pk).status == "failed"
    assert not AuditEntry.objects.filter(action__startswith="crm.").exists()


def test_operators_may_pick_and_retry():
    operators = Group.objects.get(name="Operators").permissions.filter(content_type__app_label="crm")
    assert {"retry_handoff", "pick_account", "view_handoff"} <= set(operators.values_list("codename", flat=True))
    assert not Permission.objects.filter(codename="add_handoff", group__name="Operators").exists()


def test_the_retry_action_queues_a_failed_handoff_again(admin_client, three_outcomes):
    failed = three_outcomes["failed"]

    admin_client.post(reverse("admin:crm_handoff_changelist"), {"action": "retry", "_selected_action": [failed.pk]})

    assert Handoff.objects.get(pk=failed.pk).status == "pending"
    assert AuditEntry.objects.filter(action="crm.retry").count() == 1


def test_the_api_gives_each_detections_handoff(staff_api, three_outcomes):
    rows = staff_api.get("/api/detections").json()["results"]

    by_name = {row["username"]: row["salesforce_handoff"] for row in rows}
    assert by_name["Jane Roe"]["status"] == "created" and by_name["Jane Roe"]["task_id"]
    failed = by_name["Bill Lumbergh"]
    assert failed["status"] == "failed" and "Initech tasks are closed" in failed["error"]
    assert {c["name"] for c in by_name["Hank Scorpio"]["candidates"]} == {"Globex Inc", "Globex Ltd"}


def test_stats_and_metrics_count_the_handoffs_and_the_api_usage(staff_api, admin_client, three_outcomes, salesforce):
    stats = staff_api.get("/api/stats").json()["crm"]
    metrics = admin_client.get("/metrics").content.decode()

    assert stats["enabled"] is True
    assert {k: v for k, v in stats["by_status"].items() if v} == {"created": 1, "failed": 1, "ambiguous": 1}
    assert stats["api_usage"] == {"used": salesforce.api_used, "limit": salesforce.api_limit}
    assert 'captpathfinder_crm_handoffs{status="ambiguous"} 1.0' in metrics
    assert f'captpathfinder_salesforce_api_usage{{measure="used"}} {float(salesforce.api_used)}' in metrics


def test_crm_sync_lists_the_detections_without_a_task_then_hands_them_off(salesforce, three_outcomes):
    executive("4", "Pat Doe", "Acme", "acme.com")  # not found by a run yet
    listed = StringIO()

    call_command("crm_sync", "--dry-run", stdout=listed)

    text = listed.getvalue()
    assert "Pat Doe, CEO (C-suite, first detection): no hand-off yet" in text
    assert "Hank Scorpio, CEO (C-suite, first detection): Ambiguous account: an operator picks" in text
    assert "Bill Lumbergh" in text and "Jane Roe" not in text
    assert "3 detections since" in text and len(salesforce.tasks) == 1

    done = StringIO()
    call_command("crm_sync", stdout=done)

    summary = "1 hand-off added, 1 tried again; 1 Task created, 0 ambiguous, 0 without an account, 0 to retry, 1 failed"
    assert summary in done.getvalue()  # the failed one tried again, and refused again
    assert len(salesforce.tasks) == 2
