"""Real-time alerts: within minutes, a burst as one message, a cap per hour whose overflow is one
summary, and the weekly digest only for audiences that want both."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from captpathfinder.celery import app as celery_app
from digests import services
from digests.models import Audience, Digest, DigestDelivery, Receipt
from tests.conftest import wait_until
from tests.factories import AudienceFactory, SeniorDetectionFactory
from tests.fixtures.control_room import control_room_settings

NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 24, 10, 20, tzinfo=NEW_YORK)


def ceo(name, at, **fields):
    return SeniorDetectionFactory(username=name, title="CEO", level="csuite", detected_at=at, **fields)


def alerts(now):
    return services.alerts_build_due(now=now)


def board(**fields):
    defaults = {"levels": ["csuite"], "cadence": Audience.Cadence.REALTIME, "email_to": ["board@example.com"]}
    return AudienceFactory(name="Board alerts", **{**defaults, **fields})


@pytest.mark.django_db
def test_a_burst_waits_for_the_window_and_goes_as_one_alert(settings):
    settings.DIGEST_ALERT_COALESCE_SECONDS = 60
    board()
    burst = [ceo(f"Exec {i}", T0 + timedelta(seconds=10 * i)) for i in range(3)]
    SeniorDetectionFactory(username="A VP", detected_at=T0)  # not C-suite: not for this audience

    early = alerts(T0 + timedelta(seconds=40))
    due = alerts(T0 + timedelta(seconds=61))

    assert early.digests == [] and early.audiences[0].held == 3
    [alert] = due.digests
    assert (alert.kind, alert.detection_count) == ("alert", 3)
    assert set(due.detection_ids) == {d.pk for d in burst}
    delivery = DigestDelivery.objects.get(digest=alert)
    assert delivery.content["subject"] == "3 senior executives detected · Board alerts"
    assert delivery.content["recipients"] == ["board@example.com"]
    assert alerts(T0 + timedelta(minutes=5)).digests == []  # sent once


@pytest.mark.django_db
def test_one_executive_is_named_in_the_subject(settings):
    board()
    ceo("Jane Roe", T0, company="Acme")

    alerts(T0 + timedelta(minutes=2))

    subject = DigestDelivery.objects.get().content["subject"]
    assert subject == "Senior executive detected: Jane Roe, CEO · Board alerts"


@pytest.mark.django_db
def test_the_hourly_cap_holds_the_rest_for_one_summary_never_dropping_any(settings):
    settings.DIGEST_ALERT_COALESCE_SECONDS = 0
    board(alerts_per_hour=2)
    minute = timedelta(minutes=1)
    ceo("One", T0)
    alerts(T0 + minute)
    ceo("Two", T0 + 2 * minute)
    alerts(T0 + 3 * minute)
    held = [ceo(f"Over {i}", T0 + (4 + i) * minute) for i in range(5)]
    for i in range(5):
        assert alerts(T0 + (5 + i) * minute).digests == []  # the cap: nothing more this hour

    next_hour = alerts(datetime(2026, 11, 24, 11, 0, 30, tzinfo=NEW_YORK))

    [summary] = next_hour.digests
    assert (summary.kind, summary.detection_count) == ("summary", 5)
    assert set(next_hour.detection_ids) == {d.pk for d in held}
    subject = DigestDelivery.objects.get(digest=summary).content["subject"]
    assert subject == "5 senior executives detected (summary: over the hourly cap of alerts) · Board alerts"
    assert Digest.objects.filter(kind__in=["alert", "summary"]).count() == 3


@pytest.mark.django_db
def test_an_audience_with_both_gets_a_detection_in_an_alert_and_in_fridays_digest(settings):
    board(cadence=Audience.Cadence.BOTH)
    AudienceFactory(name="Alerts only", cadence=Audience.Cadence.REALTIME)
    jane = ceo("Jane", T0)

    alerts(T0 + timedelta(minutes=2))
    weekly = services.digest_build_weekly(now=datetime(2026, 11, 27, 17, 0, tzinfo=NEW_YORK))

    assert {item.audience.name for item in weekly.audiences if item.detection_ids} == {"Everyone", "Board alerts"}
    streams = set(Receipt.objects.filter(detection=jane).values_list("audience__name", "stream"))
    assert streams == {
        ("Board alerts", "alert"),
        ("Alerts only", "alert"),
        ("Board alerts", "digest"),
        ("Everyone", "digest"),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_a_real_time_c_suite_alert_reaches_the_control_room_within_the_window(control_room, start_worker, settings):
    board()
    start_worker(extra_env={**control_room_settings(control_room), "DIGEST_ALERT_COALESCE_SECONDS": "2"})
    detected_at = timezone.now()
    ceo("Jane Roe", detected_at)
    ceo("Raj Patel", detected_at + timedelta(seconds=1))

    # What beat does every minute, here every two seconds.
    def deployed():
        celery_app.send_task("digests.tasks.alerts_build_due")
        return DigestDelivery.objects.filter(digest__kind="alert", status="sent").exists()

    wait_until(deployed, timeout=60, interval=2, message="the alert to be sent")

    [alert] = Digest.objects.filter(kind="alert")
    assert alert.detection_count == 2  # the two, coalesced
    assert (alert.built_at - detected_at).total_seconds() < 30
    [run] = [d for d in control_room.deployments if "-alert-" in d.automation_name]
    assert run.inputs[settings.AA_EMAIL_INPUT_RECIPIENTS] == "board@example.com"
    assert run.inputs[settings.AA_EMAIL_INPUT_SUBJECT] == "2 senior executives detected · Board alerts"


@pytest.mark.django_db
def test_an_alert_for_a_function_audience_names_the_function_on_each_channel(settings):
    AudienceFactory(
        name="CFO office alerts",
        functions=["finance"],
        cadence=Audience.Cadence.REALTIME,
        teams_webhook_url="https://example.com/hook",
    )
    ceo("Jane Roe", T0, function="general")
    cfo = SeniorDetectionFactory(username="Fay Lin", title="CFO", level="csuite", function="finance", detected_at=T0)

    due = alerts(T0 + timedelta(minutes=2))

    assert due.detection_ids == [cfo.pk]
    email = DigestDelivery.objects.get(channel="email").content
    teams = DigestDelivery.objects.get(channel="teams").content["message"]
    assert email["subject"] == "Senior executive detected: Fay Lin, CFO · CFO office alerts"
    assert "- Fay Lin: CFO (C-suite) · Finance" in email["text"] and ">Finance</td>" in email["html"]
    assert " — C-suite · Finance" in str(teams)
