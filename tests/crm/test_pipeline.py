"""The hand-off on the real stack: a webhook, intake, a real Celery worker, the fake inSided and
the fake Salesforce over HTTP."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from captpathfinder.celery import app as celery_app
from crm.models import Handoff
from crm.selectors import PAUSED_KEY
from detections.models import SeniorMember
from tests.conftest import profile_update, wait_until
from tests.factories import DetectionFactory, SeniorMemberFactory
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


def test_an_expired_token_then_the_api_limit_then_a_500_lose_nothing(insided, salesforce, start_worker):
    salesforce.account_add("Acme", website="acme.com", owner_id=OWNER)
    for user_id in ("1", "2", "3"):
        SeniorMemberFactory(user_id=user_id, level="csuite", company="Acme", email_domain="acme.com")
        DetectionFactory(user_id=user_id, username=f"Exec {user_id}", title="CEO", level="csuite", company="Acme")
    start_worker(extra_env=worker_env(insided, salesforce, CRM_RETRY_SCHEDULE="1,1,1"))
    cache.delete(PAUSED_KEY)

    def run_until(predicate, message):
        def ran():
            celery_app.send_task("crm.tasks.crm_handoffs_run")
            return predicate()

        wait_until(ran, timeout=60, interval=1.5, message=message)

    # A token the org then expires: renewed once, and the Task made.
    run_until(lambda: Handoff.objects.filter(status="created").count() == 3, "three Tasks")
    tokens = salesforce.token_requests
    for user_id in ("4", "5"):
        SeniorMemberFactory(user_id=user_id, level="csuite", company="Acme", email_domain="acme.com")
        DetectionFactory(user_id=user_id, username=f"Exec {user_id}", title="CEO", level="csuite", company="Acme")
    salesforce.expire_token(1)
    salesforce.limit_exceeded(1)  # then the org's daily limit: a pause until the next hour
    run_until(lambda: cache.get(PAUSED_KEY) is not None, "the pause")
    paused = Handoff.objects.filter(status="pending")
    assert salesforce.token_requests == tokens + 1 and paused.exists()
    assert all(h.attempts == 0 for h in paused)  # the limit is the org's, not a failed try
    assert any("REQUEST_LIMIT_EXCEEDED" in h.last_error for h in paused)

    # The hour comes; then a 500: retried on the schedule, and every Task made once.
    cache.delete(PAUSED_KEY)
    Handoff.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    salesforce.fail_next(1)
    run_until(lambda: Handoff.objects.filter(status="created").count() == 5, "all five Tasks")
    assert len(salesforce.tasks) == 5
    assert sorted(t["CaptPathfinder_Handoff_Key__c"] for t in salesforce.tasks) == sorted(
        Handoff.objects.values_list("key", flat=True)
    )


def test_fifty_detections_one_token_the_configured_rate_and_the_usage_metric(insided, salesforce, start_worker, client,
                                                                          admin_user):  # fmt: skip
    salesforce.account_add("Acme", website="acme.com", owner_id=OWNER)
    for number in range(50):
        user_id = str(7000 + number)
        SeniorMemberFactory(user_id=user_id, level="csuite", company="Acme", email_domain="acme.com")
        DetectionFactory(user_id=user_id, username=f"Exec {number}", title="CEO", level="csuite", company="Acme")
    start_worker(extra_env=worker_env(insided, salesforce, CRM_TASKS_PER_SECOND="10"))

    celery_app.send_task("crm.tasks.crm_handoffs_run")

    wait_until(lambda: len(salesforce.tasks) == 50, timeout=90, message="fifty Tasks")
    assert salesforce.token_requests == 1
    creates = sorted(call.at for call in salesforce.calls if call.method == "POST" and "/sobjects/Task" in call.path)
    assert creates[-1] - creates[0] >= 49 / 10 * 0.9  # 10 a second, not faster
    wait_until(lambda: Handoff.objects.filter(status="created").count() == 50, message="recorded")
    client.force_login(admin_user)
    metrics = client.get("/metrics").content.decode()
    assert f'captpathfinder_salesforce_api_usage{{measure="used"}} {float(salesforce.api_used)}' in metrics
    assert 'captpathfinder_salesforce_api_usage{measure="limit"} 15000.0' in metrics
