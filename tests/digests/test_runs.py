"""A delivery is sent when its bot run completes, not when the Control Room queues it."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from console.selectors import deliveries_overview
from digests import services
from digests.models import DigestDelivery
from digests.services.runs import deliveries_runs_check
from tests.factories import SeniorDetectionFactory
from tests.fixtures.control_room import AA_EMAIL_BOT_ID

pytestmark = pytest.mark.django_db
Status = DigestDelivery.Status


def build_and_deploy():
    SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1))
    services.digest_build_weekly()
    return services.deliveries_send_due()


def look(now=None):
    return deliveries_runs_check(now=now, every=timedelta(0))


def email():
    return DigestDelivery.objects.get(channel="email")


def test_a_delivery_is_deployed_until_its_run_completes(control_room):
    control_room.run_statuses = ["RUNNING", "COMPLETED"]

    sending = build_and_deploy()

    assert len(sending.deployed) == 2 and sending.sent == []
    assert (email().status, email().sent_at, email().deployed_at is not None) == (Status.DEPLOYED, None, True)
    look()
    assert (email().status, email().run_status) == (Status.DEPLOYED, "RUNNING")
    runs = look()
    assert len(runs.sent) == 2
    assert (email().status, email().run_status) == (Status.SENT, "COMPLETED") and email().sent_at is not None


@pytest.mark.parametrize("ending", ["RUN_FAILED", "DEPLOY_FAILED", "RUN_ABORTED", "RUN_TIMED_OUT"])
def test_a_failed_run_is_a_failed_attempt_retried_on_schedule(control_room, settings, ending):
    control_room.bot_run_statuses = {AA_EMAIL_BOT_ID: [ending]}
    now = timezone.now()
    build_and_deploy()

    runs = look(now)

    assert len(runs.failed) == 1 and len(runs.sent) == 1  # Teams' run completed
    delivery = email()
    assert (delivery.status, delivery.run_status, delivery.last_error) == (
        Status.RETRYING,
        ending,
        f"bot run {ending}",
    )
    control_room.bot_run_statuses = {}  # the mail server is back
    later = now + timedelta(seconds=settings.DIGEST_RETRY_SCHEDULE[0] + 1)
    services.deliveries_send_due(now=later)
    look(later)
    assert email().status == Status.SENT
    assert [d.bot_id for d in control_room.deployments].count(AA_EMAIL_BOT_ID) == 2  # deployed again


def test_a_status_the_documentation_does_not_name_is_not_final(control_room):
    control_room.run_statuses = ["SOMETHING_NEW"]
    build_and_deploy()

    look()

    assert (email().status, email().run_status) == (Status.DEPLOYED, "SOMETHING_NEW")


def test_a_run_not_listed_yet_is_looked_at_again(control_room):
    control_room.listed_after_first_look = False
    build_and_deploy()

    look()
    assert (email().status, email().run_status) == (Status.DEPLOYED, "NOT_LISTED")
    look()
    assert email().status == Status.SENT


def test_a_control_room_that_cannot_answer_leaves_the_run_to_the_next_look(control_room):
    build_and_deploy()
    control_room.expire_tokens()
    control_room.api_key = "rotated"  # authentication now fails: the look fails

    runs = look()

    assert len(runs.unfinished) == 2 and email().status == Status.DEPLOYED


def test_an_unfinished_run_is_counted_with_its_age(control_room):
    control_room.run_statuses = ["RUNNING"]
    build_and_deploy()
    DigestDelivery.objects.update(deployed_at=timezone.now() - timedelta(hours=2))
    look()

    overview = deliveries_overview()

    assert overview["deployed"] == 2 and overview["oldest_unfinished_run_age_seconds"] >= 7200


def test_the_admin_shows_each_run_and_its_status(control_room, admin_client):
    control_room.bot_run_statuses = {AA_EMAIL_BOT_ID: ["RUN_FAILED"]}
    control_room.run_statuses = ["RUNNING"]
    build_and_deploy()
    look()

    page = admin_client.get("/admin/digests/digestdelivery/").content.decode()

    assert "RUN_FAILED" in page and "RUNNING" in page and "Deployed: bot run not finished" in page


def test_a_late_run_result_never_lands_on_a_later_attempt(control_room):
    control_room.bot_run_statuses = {AA_EMAIL_BOT_ID: ["RUN_FAILED"]}
    build_and_deploy()
    stale = email()  # what a slow look read before an operator sent it again
    services.deliveries_resend(user=None, via="admin", delivery_ids=[stale.pk])
    control_room.bot_run_statuses = {}
    services.deliveries_send_due()
    assert email().deployment_id != stale.deployment_id

    from digests.services import delivery_failure_record

    current = {"status": Status.DEPLOYED, "deployment_id": stale.deployment_id}
    assert delivery_failure_record(stale, "bot run RUN_FAILED", timezone.now(), current=current) is None
    assert email().status == Status.DEPLOYED
    look()
    assert email().status == Status.SENT


def test_a_deployment_with_several_runs_is_sent_only_when_all_completed(control_room):
    build_and_deploy()
    mine = next(d for d in control_room.deployments if d.bot_id == AA_EMAIL_BOT_ID)
    control_room.deployments.append(replace(mine, bot_id=999, looks=0))  # a second run-as user's run
    control_room.bot_run_statuses = {999: ["RUNNING"]}

    look()

    assert (email().status, email().run_status) == (Status.DEPLOYED, "RUNNING")


def test_an_activity_item_for_another_deployment_is_not_this_run(control_room):
    control_room.ignore_activity_filter = True  # every look lists both runs
    control_room.bot_run_statuses = {AA_EMAIL_BOT_ID: ["RUNNING"]}  # Teams' run completes
    build_and_deploy()

    look()

    assert (email().status, email().run_status) == (Status.DEPLOYED, "RUNNING")
    assert DigestDelivery.objects.get(channel="teams").status == Status.SENT


def test_a_control_room_that_stops_answering_ends_the_round_and_sending_goes_on(control_room, settings):
    settings.AA_QUICK_RETRIES = 1
    build_and_deploy()
    control_room.activity_failures = [503] * 5

    from digests.services.runs import deliveries_runs_check_and_send

    runs, _ = deliveries_runs_check_and_send()

    assert runs.sent == [] and len(runs.unfinished) == 1  # the first look failed: the round ended
    assert control_room.activity_requests == 1
