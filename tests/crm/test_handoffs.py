"""The hand-off against the fake Salesforce over HTTP and the real database: the Task, exactly once,
and each fault as docs/crm.md says."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from access.models import AuditEntry
from crm import selectors
from crm.models import AccountPick, Handoff
from crm.services import handoffs, operator_actions
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db
OWNER = "005000000000ABCAAA"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def crm(settings, salesforce):
    settings.CRM_HANDOFF_ENABLED = True
    settings.CRM_HANDOFF_LEVELS = ["vp", "csuite"]
    settings.CRM_TASKS_PER_SECOND = 50
    settings.CRM_RETRY_SCHEDULE = [60, 300]
    settings.ADMIN_PUBLIC_URL = "https://captpathfinder.example.com"
    settings.COMMUNITY_PROFILE_URL_TEMPLATE = "https://community.example.com/members/{username}-{user_id}"
    settings.COMMUNITY_API_URL = ""  # no community email unless a test sets up the fake
    yield salesforce


def executive(user_id="2000", *, username="Jane Roe", title="Chief Financial Officer", company="Acme Corp",
              email_domain="acme.com", kind="first", level="csuite", function="finance"):  # fmt: skip
    SeniorMemberFactory(user_id=user_id, username=username, title=title, level=level, company=company,
                        email_domain=email_domain, enriched_at=timezone.now())  # fmt: skip
    return DetectionFactory(
        user_id=user_id, username=username, title=title, level=level, kind=kind, company=company, function=function
    )


def run() -> handoffs.RunReport:
    handoffs.handoffs_find()
    return handoffs.handoffs_run_due(budget_seconds=None)


def due_now() -> None:
    """The retry time come (the schedule's waits are minutes)."""
    Handoff.objects.filter(status="pending").update(next_attempt_at=timezone.now())


def test_a_promoted_cfo_becomes_one_task_for_the_account_owner(salesforce, insided, settings):
    settings.COMMUNITY_API_URL = insided.url
    insided.add_user(2000, username="Jane Roe")  # the community gives jane.roe@example.com
    acme = salesforce.account_add("ACME Corporation", website="https://www.acme.com/en", owner_id=OWNER)
    salesforce.account_add("Acme Widgets", website="acme-widgets.com")
    jane = salesforce.contact_add(acme, "jane.roe@example.com", "Jane", "Roe")
    detection = executive(kind="promotion")

    report = run()

    assert report.created == 1
    [task] = salesforce.tasks
    assert (task["OwnerId"], task["WhatId"], task["WhoId"]) == (OWNER, acme, jane)
    assert task["Subject"] == "Senior executive in the community: Jane Roe, Chief Financial Officer (promoted from VP)"
    assert "Level: C-suite · Function: Finance" in task["Description"]
    assert "(promoted from VP to C-suite)" in task["Description"]
    assert "https://community.example.com/members/Jane%20Roe-2000" in task["Description"]
    correct = f"https://captpathfinder.example.com/admin/detections/detection/{detection.pk}/correct/"
    assert correct in task["Description"]
    assert task["ActivityDate"] == (timezone.localdate(detection.detected_at) + timedelta(days=3)).isoformat()
    assert (task["Priority"], task["Status"]) == ("Normal", "Not Started")
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.task_id, handoff.account_name) == ("created", task["Id"], "ACME Corporation")
    assert run().created == 0 and len(salesforce.tasks) == 1  # once


def test_the_email_address_is_not_stored(salesforce, insided, settings):
    settings.COMMUNITY_API_URL = insided.url
    insided.add_user(2000, username="Jane Roe")
    salesforce.contact_add(salesforce.account_add("Acme", website="acme.com"), "jane.roe@example.com", "Jane", "Roe")
    executive()

    run()

    handoff = Handoff.objects.get()
    stored = " ".join(str(value) for value in Handoff.objects.values().get().values())
    assert handoff.contact_id and "jane.roe@example.com" not in stored


def test_levels_and_kinds_not_handed_off_get_no_handoff(settings):
    settings.CRM_HANDOFF_LEVELS = ["csuite"]
    settings.CRM_HANDOFF_KINDS = ["promotion"]
    executive("1", level="vp", title="VP Finance")
    executive("2", kind="first")
    wanted = executive("3", kind="promotion")

    assert handoffs.handoffs_find() == 1
    assert list(Handoff.objects.values_list("detection_id", flat=True)) == [wanted.pk]


def test_a_lost_answer_is_found_by_its_key_and_no_second_task_is_made(salesforce):
    salesforce.account_add("Acme", website="acme.com")
    executive()
    salesforce.drop_reply_after_create(1)  # Salesforce creates the Task, and the answer never comes

    first = run()
    assert first.retrying == 1 and len(salesforce.tasks) == 1
    handoff = Handoff.objects.get()
    assert handoff.status == "pending" and handoff.create_sent_at is not None and not handoff.task_id

    due_now()
    second = handoffs.handoffs_run_due(budget_seconds=None)

    assert second.created == 1 and len(salesforce.tasks) == 1
    handoff.refresh_from_db()
    assert handoff.task_id == salesforce.tasks[0]["Id"] and "answer was lost" in handoff.answer


def test_an_expired_token_is_renewed_once_and_the_task_made(salesforce):
    salesforce.account_add("Acme", website="acme.com")
    executive()
    run()  # a first token
    executive("2001", username="Omar Haddad")
    salesforce.expire_token(1)

    assert run().created == 1
    assert salesforce.token_requests == 2 and len(salesforce.tasks) == 2


def test_the_api_limit_pauses_everything_until_the_next_hour(salesforce, time_machine):
    time_machine.move_to(datetime(2026, 12, 9, 14, 20, tzinfo=NEW_YORK), tick=False)
    salesforce.account_add("Acme", website="acme.com")
    executive()
    executive("2001", username="Omar Haddad")
    salesforce.limit_exceeded(1)

    report = run()

    next_hour = datetime(2026, 12, 9, 15, 0, tzinfo=NEW_YORK)
    assert report.paused_until == next_hour and not salesforce.tasks
    paused = Handoff.objects.get(next_attempt_at=next_hour)
    assert paused.status == "pending" and paused.attempts == 0 and "REQUEST_LIMIT_EXCEEDED" in paused.last_error
    calls = len(salesforce.calls)
    assert handoffs.handoffs_run_due(budget_seconds=None).paused_until == next_hour
    assert len(salesforce.calls) == calls  # paused: not even a query

    time_machine.move_to(datetime(2026, 12, 9, 15, 1, tzinfo=NEW_YORK), tick=False)
    assert handoffs.handoffs_run_due(budget_seconds=None).created == 2  # nothing lost


def test_a_server_error_is_retried_on_the_schedule_then_failed_with_the_whole_error(salesforce, admin_user):
    salesforce.account_add("Acme", website="acme.com")
    executive()
    salesforce.fail_next(3)  # the first try and both retries (CRM_RETRY_SCHEDULE: two waits)

    assert run().retrying == 1
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.attempts) == ("pending", 1)
    assert handoff.next_attempt_at > timezone.now() + timedelta(seconds=50)
    due_now()
    handoffs.handoffs_run_due(budget_seconds=None)
    due_now()
    handoffs.handoffs_run_due(budget_seconds=None)

    handoff.refresh_from_db()
    assert (handoff.status, handoff.attempts) == ("failed", 3)
    assert "500" in handoff.last_error and "UNKNOWN_EXCEPTION" in handoff.last_error

    assert operator_actions.handoffs_retry([handoff.pk], user=admin_user, via="admin") == 1
    assert handoffs.handoffs_run_due(budget_seconds=None).created == 1  # nothing lost
    assert AuditEntry.objects.filter(action="crm.retry", username=admin_user.username).count() == 1


def test_a_validation_rule_fails_one_task_by_its_field_and_not_the_others(salesforce):
    salesforce.account_add("Acme", website="acme.com")
    salesforce.reject_when(lambda fields: "Boss" in fields.get("Subject", ""), "No bosses in subjects", ["Subject"])
    executive("1", username="The Boss")
    executive("2", username="Jane Roe")

    report = run()

    assert (report.created, report.failed) == (1, 1)
    failed = Handoff.objects.get(status="failed")
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in failed.last_error and "Subject" in failed.last_error
    assert "No bosses in subjects" in failed.last_error


def test_the_domain_decides_between_accounts_of_one_name(salesforce):
    salesforce.account_add("Acme", website="https://acme.de")
    ours = salesforce.account_add("Acme Inc.", website="www.acme.com")
    executive(company="Acme", email_domain="acme.com")

    run()

    assert salesforce.tasks[0]["WhatId"] == ours


def test_two_accounts_of_one_name_wait_for_an_operators_pick_which_is_remembered(salesforce, admin_user):
    salesforce.account_add("Globex Inc", website="globex.com")
    picked = salesforce.account_add("Globex, Inc.", website="globex.co.uk")
    executive("1", company="Globex", email_domain="")

    assert run().ambiguous == 1 and not salesforce.tasks
    handoff = Handoff.objects.get()
    assert handoff.status == "ambiguous" and len(handoff.candidates) == 2

    operator_actions.account_pick(handoff, picked, user=admin_user, via="admin")
    assert handoffs.handoffs_run_due(budget_seconds=None).created == 1
    assert salesforce.tasks[0]["WhatId"] == picked
    assert AccountPick.objects.get().match_key == "company:globex"
    assert AuditEntry.objects.filter(action="crm.pick_account").count() == 1

    executive("2", company="GLOBEX inc.", email_domain="", username="Omar Haddad")  # the next at Globex
    assert run().created == 1 and salesforce.tasks[1]["WhatId"] == picked


def test_a_pick_outside_the_candidates_is_refused(salesforce, admin_user):
    salesforce.account_add("Globex Inc")
    salesforce.account_add("Globex Ltd")
    executive(company="Globex", email_domain="")
    run()

    with pytest.raises(ValueError, match="not one of the accounts"):
        operator_actions.account_pick(Handoff.objects.get(), "001000000000XYZ", user=admin_user, via="admin")


def test_no_account_is_recorded_and_counted(salesforce):
    salesforce.account_add("Initech", website="initech.com")
    executive(company="Umbrella", email_domain="umbrella.example")

    assert run().no_account == 1
    handoff = Handoff.objects.get()
    assert handoff.status == "no_account" and "Umbrella" in handoff.answer and not salesforce.tasks


def test_a_new_member_waits_for_their_profile_before_no_account(salesforce, insided, settings):
    settings.COMMUNITY_API_URL = insided.url
    SeniorMemberFactory(user_id="3000", username="New Person", level="csuite", company="", email_domain="")
    DetectionFactory(user_id="3000", username="New Person", title="CEO", level="csuite", company="")

    report = run()

    handoff = Handoff.objects.get()
    assert report.waiting == 1 and handoff.status == "pending" and handoff.next_attempt_at > timezone.now()


def test_fifty_detections_take_one_token_and_keep_to_the_rate(salesforce, settings):
    settings.CRM_TASKS_PER_SECOND = 20
    salesforce.account_add("Acme", website="acme.com")
    for number in range(50):
        executive(str(5000 + number), username=f"Exec {number}")

    started = time.monotonic()
    report = run()
    elapsed = time.monotonic() - started

    assert report.created == 50 and len(salesforce.tasks) == 50
    assert salesforce.token_requests == 1
    creates = sorted(call.at for call in salesforce.calls if call.method == "POST" and "/sobjects/Task" in call.path)
    assert elapsed >= 49 / 20 * 0.95 and creates[-1] - creates[0] >= 49 / 20 * 0.9
    usage = selectors.api_usage()
    assert (usage.used, usage.limit) == (salesforce.api_used, salesforce.api_limit)


def test_past_the_share_of_the_api_limit_the_handoff_slows_down(salesforce, settings):
    settings.CRM_TASKS_PER_SECOND = 50
    settings.CRM_SLOW_TASKS_PER_SECOND = 5
    settings.CRM_SLOW_DOWN_AT_SHARE = 0.8
    salesforce.account_add("Acme", website="acme.com")
    salesforce.api_used = 12_500  # of 15,000: past 0.8
    for number in range(6):
        executive(str(6000 + number), username=f"Exec {number}")

    started = time.monotonic()
    assert run().created == 6

    # The first reply tells the usage: from the third hand-off on, 5/s (four gaps), not 50/s.
    assert time.monotonic() - started >= 4 / 5 * 0.9
