"""Delivering digests through the (fake) Automation Anywhere Control Room."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client import REGISTRY

from digests import services
from digests.models import ChannelCircuit, DigestDelivery
from digests.services.runs import deliveries_runs_check, runs_check_and_send_summary
from integrations.automation_anywhere.client import _TOKEN_KEY, ControlRoomClient, _Token
from tests.concurrency import run_together
from tests.factories import SeniorDetectionFactory
from tests.fixtures.control_room import AA_EMAIL_BOT_ID, AA_TEAMS_BOT_ID

Status = DigestDelivery.Status


def build(count=3, **kwargs):
    for _ in range(count):
        SeniorDetectionFactory(detected_at=timezone.now() - timedelta(hours=1), **kwargs)
    return services.digest_build_weekly()


def send_due(**kwargs):
    """Send what is due, then read the bot runs the Control Room was asked for (the fake's runs
    complete at once unless told otherwise): what the every-minute task does, in one step."""
    sending = services.deliveries_send_due(**kwargs)
    runs = deliveries_runs_check(now=kwargs.get("now"), every=timedelta(0))
    sending.sent += runs.sent
    sending.failed += runs.failed
    return sending


def statuses():
    return sorted(DigestDelivery.objects.values_list("status", flat=True))


@pytest.mark.django_db
def test_due_deliveries_run_the_bots_with_their_content(control_room):
    build(2, username="Jane Roe", title="CFO", level="csuite")

    report = send_due()

    assert len(report.sent) == 2 and statuses() == ["sent", "sent"]
    by_bot = {d.bot_id: d for d in control_room.deployments}
    email, teams = by_bot[AA_EMAIL_BOT_ID], by_bot[AA_TEAMS_BOT_ID]
    assert email.api == "v4" and email.run_as_user_ids == [11, 12] and email.pool_ids == [3]
    assert email.inputs["recipients"] == "exec-team@example.com;sales-ops@example.com"
    assert "Jane Roe" in email.inputs["htmlBody"] and "Jane Roe" in email.inputs["textBody"]
    assert email.inputs["subject"].startswith("Senior executives detected")
    assert teams.inputs["webhookUrl"] == "https://example.webhook.office.com/workflows/abc"
    assert '"AdaptiveCard"' in teams.inputs["message"]
    delivery = DigestDelivery.objects.get(channel="email")
    assert delivery.deployment_id == email.deployment_id
    assert email.automation_name == delivery.automation_name
    assert delivery.sent_at is not None and delivery.attempts == 1


@pytest.mark.django_db
def test_the_older_v3_deploy_api_by_setting(control_room, settings):
    settings.AA_DEPLOY_API = "v3"
    build(1)

    send_due()

    assert {d.api for d in control_room.deployments} == {"v3"}
    assert statuses() == ["sent", "sent"]


@pytest.mark.django_db
def test_the_token_is_reused_and_refreshed_before_it_expires(control_room):
    build(1)
    send_due()
    assert control_room.auth_requests == 1  # two deploys, one authentication

    token = cache.get(_TOKEN_KEY)
    cache.set(_TOKEN_KEY, _Token(token.value, time.time() - 16 * 60))  # 16 minutes old
    services.deliveries_resend(
        user=None, via="admin", delivery_ids=list(DigestDelivery.objects.values_list("pk", flat=True))
    )
    send_due()

    assert control_room.refresh_requests == 1 and control_room.auth_requests == 1
    assert statuses() == ["sent", "sent"]


@pytest.mark.django_db
def test_a_token_that_expires_mid_run_is_renewed(control_room):
    build(12)  # two chunks: four deliveries
    first = send_due(limit=1)
    control_room.expire_tokens()

    rest = send_due()

    assert len(first.sent) + len(rest.sent) == 4
    assert control_room.auth_requests == 2
    assert len(control_room.deployments) == 4


@pytest.mark.parametrize("failure", [500, 503, 429, "timeout", "malformed", "no-id"])
@pytest.mark.django_db
def test_transient_failures_are_retried_quickly_within_an_attempt(control_room, failure):
    build(1)
    control_room.fail_next(failure)

    report = send_due()

    assert len(report.sent) == 2
    assert set(DigestDelivery.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_a_control_room_down_for_hours_is_retried_on_schedule_until_it_recovers(control_room, settings):
    settings.DIGEST_CIRCUIT_FAILURES = 100  # this test is about the schedule, not the breaker
    build(1)  # one chunk: an email and a Teams delivery
    control_room.fail_next(*[500] * settings.AA_QUICK_RETRIES * 2 * 4)  # four attempts each, all failing
    now = timezone.now()

    for gap in [0, *settings.DIGEST_RETRY_SCHEDULE[:3]]:
        now += timedelta(seconds=gap)
        send_due(now=now)
        # Nothing is due again before the next scheduled time.
        assert send_due(now=now + timedelta(seconds=1)).sent == []

    assert statuses() == ["retrying", "retrying"]
    delivery = DigestDelivery.objects.get(channel="email")
    assert "HTTP 500" in delivery.last_error and delivery.attempts == 4
    assert delivery.next_attempt_at == now + timedelta(seconds=settings.DIGEST_RETRY_SCHEDULE[3])

    send_due(now=now + timedelta(seconds=settings.DIGEST_RETRY_SCHEDULE[3]))

    assert statuses() == ["sent", "sent"]
    assert len(control_room.deployments) == 2  # each sent exactly once


@pytest.mark.django_db
def test_a_delivery_that_keeps_failing_ends_dead_and_can_be_sent_again(control_room, settings):
    settings.DIGEST_RETRY_SCHEDULE = [60, 120]
    settings.DIGEST_CIRCUIT_FAILURES = 100
    settings.AA_EMAIL_BOT_ID = 0  # misconfigured: fails without calling AA
    build(1)
    now = timezone.now()
    for gap in (0, 60, 120):
        now += timedelta(seconds=gap)
        send_due(now=now)

    email = DigestDelivery.objects.get(channel="email")
    assert (email.status, email.attempts, email.last_error) == ("dead", 3, "AA_EMAIL_BOT_ID is not set")
    assert send_due(now=now + timedelta(days=1)).sent == []

    settings.AA_EMAIL_BOT_ID = AA_EMAIL_BOT_ID
    assert services.deliveries_resend(user=None, via="command") == 1
    send_due()

    assert statuses() == ["sent", "sent"]


@pytest.mark.django_db
def test_the_circuit_opens_after_repeated_failures_and_a_probe_closes_it(control_room, settings):
    settings.DIGEST_CIRCUIT_FAILURES = 2
    settings.DIGEST_CIRCUIT_PAUSE_SECONDS = 300
    settings.DIGEST_CHUNK_SIZE = 1
    build(5)  # five email and five Teams deliveries
    control_room.failing_bots.add(AA_EMAIL_BOT_ID)
    now = timezone.now()

    send_due(now=now)

    circuit = ChannelCircuit.objects.get(channel="email")
    assert circuit.state == "open"
    assert DigestDelivery.objects.filter(channel="email", attempts=1).count() == 2  # the rest never tried
    assert DigestDelivery.objects.filter(channel="teams", status="sent").count() == 5  # Teams unaffected

    requests = control_room.deploy_requests
    send_due(now=now + timedelta(seconds=299))
    assert control_room.deploy_requests == requests  # nothing called while open

    send_due(now=now + timedelta(seconds=301))  # the probe fails: open again, longer
    circuit.refresh_from_db()
    assert (circuit.state, circuit.open_count) == ("open", 2)
    assert control_room.deploy_requests == requests + settings.AA_QUICK_RETRIES

    control_room.failing_bots.clear()  # the bot runner is back
    send_due(now=now + timedelta(seconds=301 + 600 + 1))

    circuit.refresh_from_db()
    assert circuit.state == "closed"
    assert DigestDelivery.objects.filter(channel="email", status="sent").count() == 5


@pytest.mark.django_db
def test_a_delivery_left_sending_by_a_dead_worker_is_sent_after_its_lease(control_room):
    build(1)
    now = timezone.now()
    DigestDelivery.objects.update(status=Status.SENDING, claimed_until=now + timedelta(seconds=60), attempts=1)

    assert send_due(now=now).sent == []  # still leased
    report = send_due(now=now + timedelta(seconds=61))

    assert len(report.sent) == 2
    assert set(DigestDelivery.objects.values_list("attempts", flat=True)) == {2}


@pytest.mark.django_db
def test_a_delivery_whose_sender_died_after_its_deploy_was_accepted_runs_twice_and_says_so(control_room, caplog):
    """The gap the Control Room leaves: its Activity List documents no filter on the automation
    name a deploy gave its run, so the run of a sender that died before recording it cannot be
    found, and the delivery is deployed again. It is logged and counted, never silent."""
    build(1)
    delivery = DigestDelivery.objects.get(channel="email")
    # The dead sender's deploy: the Control Room accepted it, the delivery never learned its id.
    ControlRoomClient().deploy(bot_id=AA_EMAIL_BOT_ID, automation_name=delivery.automation_name, inputs={})
    now = timezone.now()
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_until=now - timedelta(seconds=1), attempts=1
    )
    labels = {"channel": "email", "outcome": "taken_over"}
    before = REGISTRY.get_sample_value("captpathfinder_digest_deliveries_total", labels) or 0

    with caplog.at_level("WARNING", logger="digests.services.sending"):
        report = services.deliveries_send_due(now=now)

    assert report.taken_over == [delivery.pk] and sorted(report.deployed) == sorted(
        DigestDelivery.objects.values_list("pk", flat=True)
    )
    assert control_room.names().count(delivery.automation_name) == 2  # deployed twice: the gap
    assert REGISTRY.get_sample_value("captpathfinder_digest_deliveries_total", labels) == before + 1
    assert f"delivery {delivery.pk} ({delivery.automation_name}) taken over" in caplog.text
    assert "taken over from a sender that stopped mid-send (may go out twice)" in runs_check_and_send_summary(
        deliveries_runs_check(now=now, every=timedelta(0)), report
    )


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_never_send_a_delivery_twice(control_room, settings):
    settings.DIGEST_CHUNK_SIZE = 1
    build(20)  # forty deliveries

    run_together(send_due, send_due, send_due)

    names = control_room.names()
    assert len(names) == 40 and len(set(names)) == 40
    assert statuses() == ["sent"] * 40


@pytest.mark.django_db
def test_the_console_backend_writes_deliveries_instead(settings, tmp_path):
    settings.DIGEST_BACKEND = "console"
    settings.VAR_DIR = tmp_path
    settings.DIGEST_EMAIL_TO = ["operators@example.com"]
    settings.DIGEST_TEAMS_WEBHOOK_URL = "https://example.com/teams-workflow-webhook"
    build(1)

    send_due()

    assert statuses() == ["sent", "sent"]
    assert len(list((tmp_path / "outbox").glob("captpathfinder-digest-*.json"))) == 2
    assert set(DigestDelivery.objects.values_list("deployment_id", flat=True)) == {
        f"console-{pk}" for pk in DigestDelivery.objects.values_list("pk", flat=True)
    }


# --- recipients ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivery_without_recipients_is_not_sent_and_says_why(control_room, settings):
    settings.DIGEST_EMAIL_TO = []
    build(1)

    send_due()

    email = DigestDelivery.objects.get(channel="email")
    assert email.status == Status.RETRYING and email.sent_at is None
    assert email.last_error.startswith("no recipients: DIGEST_EMAIL_TO is empty")
    assert {d.bot_id for d in control_room.deployments} == {AA_TEAMS_BOT_ID}  # the email bot never ran
    assert not ChannelCircuit.objects.filter(channel="email", consecutive_failures__gt=0).exists()  # not its fault


@pytest.mark.django_db
def test_recipients_set_later_are_used_when_the_delivery_is_tried_again(control_room, settings):
    settings.DIGEST_EMAIL_TO = []
    build(1)
    send_due()
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    ChannelCircuit.objects.all().delete()

    send_due(now=timezone.now() + timedelta(hours=1))

    email = DigestDelivery.objects.get(channel="email")
    assert email.status == Status.SENT and email.content["recipients"] == ["exec-team@example.com"]
    assert [d.inputs["recipients"] for d in control_room.deployments if d.bot_id == AA_EMAIL_BOT_ID] == [
        "exec-team@example.com"
    ]


@pytest.mark.django_db
def test_a_channel_left_out_of_digest_channels_gets_no_deliveries(control_room, settings):
    settings.DIGEST_CHANNELS = ["teams"]

    build(2)

    assert list(DigestDelivery.objects.values_list("channel", flat=True)) == ["teams"]


@pytest.mark.django_db
def test_a_control_room_failure_is_retried_for_the_audience_it_hit_alone(control_room, settings):
    from tests.factories import AudienceFactory

    AudienceFactory(name="EMEA", countries=["DE"], email_to=["emea@example.com"])
    build(1, country="Germany")  # Everyone: email and Teams; EMEA: email
    emea = DigestDelivery.objects.get(digest__audience__name="EMEA")
    DigestDelivery.objects.filter(pk=emea.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    control_room.fail_next(*[500] * settings.AA_QUICK_RETRIES)  # EMEA's delivery is claimed first
    now = timezone.now()

    send_due(now=now)
    emea.refresh_from_db()
    assert emea.status == Status.RETRYING and "HTTP 500" in emea.last_error
    assert set(DigestDelivery.objects.exclude(pk=emea.pk).values_list("status", flat=True)) == {Status.SENT}

    send_due(now=now + timedelta(seconds=settings.DIGEST_RETRY_SCHEDULE[0]))

    emea.refresh_from_db()
    assert (emea.status, emea.attempts) == (Status.SENT, 2)
    [emea_run] = [d for d in control_room.deployments if d.deployment_id == emea.deployment_id]
    assert emea_run.inputs["recipients"] == "emea@example.com"
    assert len(control_room.deployments) == 3  # one run each: nothing sent twice
