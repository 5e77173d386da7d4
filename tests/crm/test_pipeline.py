"""The hand-off on the real stack: a webhook, intake, a real Celery worker, the fake inSided and
the fake Salesforce over HTTP."""

import pytest

from captpathfinder.celery import app as celery_app
from crm.models import Handoff
from detections.models import SeniorMember
from tests.conftest import profile_update, wait_until
from tests.fixtures.salesforce import salesforce_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
OWNER = "005000000000ABCAAA"


def worker_env(insided, salesforce, **extra) -> dict:
    return {
        "COMMUNITY_API_URL": insided.url,
        "COMMUNITY_CLIENT_ID": insided.client_id,
        "COMMUNITY_CLIENT_SECRET": insided.client_secret,
        "CRM_HANDOFF_ENABLED": "true",
        **salesforce_settings(salesforce),
        **extra,
    }


def enriched(user_id: str) -> bool:
    return SeniorMember.objects.filter(pk=user_id, enriched_at__isnull=False).exists()


def test_a_webhook_makes_a_cfo_and_the_worker_creates_one_task_for_the_owner(
    webhook, insided, salesforce, start_worker
):
    insided.add_user(2000, username="Member 2000", company="Acme Corp", job_title="Chief Financial Officer")
    acme = salesforce.account_add("Acme Corporation", website="https://www.acme.com", owner_id=OWNER)
    contact = salesforce.contact_add(acme, "member.2000@example.com", "Member", "2000")
    salesforce.account_add("Initech", website="initech.com")
    start_worker(extra_env=worker_env(insided, salesforce))

    assert webhook.post(profile_update(value="Chief Financial Officer")).status_code == 202
    wait_until(lambda: enriched("2000"), timeout=60, message="the member's profile to be read")
    celery_app.send_task("crm.tasks.crm_handoffs_run")

    wait_until(lambda: salesforce.tasks, timeout=60, message="the worker to create the Task")
    [task] = salesforce.tasks
    assert (task["OwnerId"], task["WhatId"], task["WhoId"]) == (OWNER, acme, contact)
    assert task["Subject"] == "Senior executive in the community: Member 2000, Chief Financial Officer"
    wait_until(lambda: Handoff.objects.filter(status="created", task_id=task["Id"]).exists(), message="recorded")


def test_a_create_whose_answer_is_lost_is_not_made_twice_by_the_worker(webhook, insided, salesforce, start_worker):
    insided.add_user(2000, username="Member 2000", company="Acme", job_title="CEO")
    salesforce.account_add("Acme", website="acme.com", owner_id=OWNER)
    salesforce.drop_reply_after_create(1)  # Salesforce creates the Task; the connection closes unanswered
    start_worker(extra_env=worker_env(insided, salesforce, CRM_RETRY_SCHEDULE="1,1,1"))

    assert webhook.post(profile_update(value="CEO")).status_code == 202
    wait_until(lambda: enriched("2000"), timeout=60, message="the member's profile to be read")
    celery_app.send_task("crm.tasks.crm_handoffs_run")
    wait_until(
        lambda: Handoff.objects.filter(status="pending", attempts=1, create_sent_at__isnull=False).exists(),
        timeout=60,
        message="the lost answer to be recorded for a retry",
    )
    assert len(salesforce.tasks) == 1

    def retried():
        celery_app.send_task("crm.tasks.crm_handoffs_run")  # beat's next minute, sooner
        return Handoff.objects.filter(status="created").exists()

    wait_until(retried, timeout=60, interval=2, message="the retry to find the Task")
    handoff = Handoff.objects.get()
    assert len(salesforce.tasks) == 1 and handoff.task_id == salesforce.tasks[0]["Id"]
    assert "answer was lost" in handoff.answer
