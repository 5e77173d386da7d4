"""Audiences: each gets the detections its filter matches, once, on its own channels."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from detections.models import SeniorMember
from digests import services
from digests.matching import country_code
from digests.models import Audience, DigestDelivery, Receipt
from tests.factories import AudienceFactory, SeniorDetectionFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
FRIDAY_5PM = datetime(2026, 11, 20, 17, 0, tzinfo=NEW_YORK)
BOARD_WEBHOOK = "https://example.webhook.office.com/workflows/board?sig=SECRET"


def detected(username, *, country="", level="vp", title="VP of Sales", hours_ago=24, **fields):
    return SeniorDetectionFactory(
        username=username,
        country=country,
        level=level,
        title=title,
        detected_at=FRIDAY_5PM - timedelta(hours=hours_ago),
        **fields,
    )


def carried_by(build):
    """Audience name → detections its digest carried (audiences that got nothing are left out)."""
    return {item.audience.name: set(item.detection_ids) for item in build.audiences if item.detection_ids}


def test_two_audiences_with_different_filters_get_different_digests():
    AudienceFactory(name="EMEA sales", countries=["DE", "GB"], email_to=["emea@example.com"])
    AudienceFactory(name="Board", levels=["csuite"], email_to=[], teams_webhook_url=BOARD_WEBHOOK)
    lena = detected("Lena", country="Germany")
    tom = detected("Tom", country="United Kingdom", level="csuite", title="CEO", hours_ago=30)
    amy = detected("Amy", country="USA", level="csuite", title="CFO")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert carried_by(build) == {
        "Everyone": {lena.pk, tom.pk, amy.pk},
        "EMEA sales": {lena.pk, tom.pk},
        "Board": {tom.pk, amy.pk},
    }
    emea = DigestDelivery.objects.get(digest__audience__name="EMEA sales")  # email only: its one channel
    assert emea.content["recipients"] == ["emea@example.com"]
    assert emea.content["subject"] == "Senior executives detected: Nov 19 – Nov 20, 2026 · EMEA sales"
    assert "Lena" in emea.content["text"] and "Amy" not in emea.content["text"]
    board = DigestDelivery.objects.get(digest__audience__name="Board")
    assert (board.channel, board.content["webhook_url"]) == ("teams", BOARD_WEBHOOK)
    everyone = DigestDelivery.objects.get(digest__audience__name="Everyone", channel="email")
    assert everyone.content["subject"] == "Senior executives detected: Nov 19 – Nov 20, 2026"  # as before audiences


def test_each_audience_gets_a_detection_once_and_next_friday_only_what_is_new():
    AudienceFactory(name="Germany", countries=["DE"])
    first = detected("Lena", country="DE")
    services.digest_build_weekly(now=FRIDAY_5PM)
    later = SeniorDetectionFactory(country="Deutschland", detected_at=FRIDAY_5PM + timedelta(days=2))
    SeniorMember.objects.filter(user_id=later.user_id).update(country="Germany")

    next_week = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(days=7))

    assert carried_by(next_week) == {"Everyone": {later.pk}, "Germany": {later.pk}}
    assert Receipt.objects.filter(detection=first).count() == 2  # one per audience


def test_a_company_filter_matches_names_and_email_domains():
    AudienceFactory(name="Acme account", companies=["ACME corp", "globex.com"])
    by_name = detected("Ann", company="Acme  Corp")
    by_domain = detected("Bo", company="Globex Europe GmbH")
    SeniorMember.objects.filter(user_id=by_domain.user_id).update(email_domain="eu.globex.com")
    detected("Cy", company="Initech")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert carried_by(build)["Acme account"] == {by_name.pk, by_domain.pk}


def test_a_promotions_only_audience_hears_of_promotions_alone():
    AudienceFactory(name="Promotions", kinds=["promotion"])
    detected("Vi", user_id="3", hours_ago=48)
    promotion = detected("Vi", user_id="3", level="csuite", title="COO", kind="promotion")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert carried_by(build)["Promotions"] == {promotion.pk}
    text = DigestDelivery.objects.get(digest__audience__name="Promotions").content["text"]
    assert "- Vi: COO (VP → C-suite)" in text and "Detected: Promoted Nov 19, 2026" in text


def test_a_new_audience_hears_from_its_start_and_can_be_set_back_to_catch_up():
    old = detected("Old", hours_ago=72)
    audience = AudienceFactory(name="New team", starts_at=FRIDAY_5PM - timedelta(hours=48))
    new = detected("New")
    build = services.digest_build_weekly(now=FRIDAY_5PM)
    assert carried_by(build)["New team"] == {new.pk}

    audience.starts_at = FRIDAY_5PM - timedelta(days=30)
    services.audience_save(audience, user=None, via="command")
    extra = services.digest_build_extra(now=FRIDAY_5PM + timedelta(hours=1))

    assert carried_by(extra) == {"New team": {old.pk}}


def test_a_widened_filter_looks_again_at_detections_since_the_start():
    audience = AudienceFactory(name="Americas", countries=["US"])
    canadian = detected("Cam", country="Canada", hours_ago=24 * 10)  # long before the previous build
    services.digest_build_weekly(now=FRIDAY_5PM)

    audience.countries = ["US", "CA"]
    services.audience_save(audience, user=None, via="command")
    build = services.digest_build_extra(now=FRIDAY_5PM + timedelta(hours=1))

    assert carried_by(build) == {"Americas": {canadian.pk}}


def test_a_realtime_only_audience_gets_no_weekly_digest():
    AudienceFactory(name="Board alerts", cadence=Audience.Cadence.REALTIME)
    detected("Ann")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert set(carried_by(build)) == {"Everyone"}


def test_a_paused_audience_gets_nothing_and_later_catches_up():
    audience = AudienceFactory(name="Paused", is_active=False)
    ann = detected("Ann")
    services.digest_build_weekly(now=FRIDAY_5PM)
    audience.is_active = True
    services.audience_save(audience, user=None, via="command")

    build = services.digest_build_weekly(now=FRIDAY_5PM + timedelta(days=7))

    assert carried_by(build) == {"Paused": {ann.pk}}


def test_one_audience_failing_does_not_hold_up_the_others(monkeypatch):
    AudienceFactory(name="Broken")
    ann = detected("Ann")
    real_fill = services.build_writes.digest_fill

    def fill(digest, audience, composition, now, **kwargs):
        if audience.name == "Broken":
            raise ValueError("a rendering bug")
        return real_fill(digest, audience, composition, now, **kwargs)

    monkeypatch.setattr(services.build_writes, "digest_fill", fill)

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert carried_by(build) == {"Everyone": {ann.pk}}
    assert [item.error for item in build.audiences if item.error] == ["a rendering bug"]
    assert not Receipt.objects.filter(audience__name="Broken").exists()  # its transaction rolled back
    assert "Broken: failed (a rendering bug)." in services.build_summary(build)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("Germany", "DE"), ("de", "DE"), ("DEU", "DE"), ("United States", "US"), ("UK", "GB"), (" u.s.a. ", "US")],
)
def test_countries_are_read_as_members_type_them(typed, code):
    assert country_code(typed) == code


def test_a_country_that_cannot_be_read_matches_no_country_filter():
    AudienceFactory(name="Germany", countries=["DE"])
    detected("Ann", country="Middle Earth")

    assert "Germany" not in carried_by(services.digest_build_weekly(now=FRIDAY_5PM))


def test_a_detection_written_late_for_an_old_event_still_goes():
    """A set-aside event retried days later makes a detection dated when its event arrived."""
    from django.utils import timezone

    now = timezone.now()
    detected("First", hours_ago=0).save()
    services.digest_build_extra(now=now)  # the audience's scan moves to a day before now
    retried = SeniorDetectionFactory(username="Retried", detected_at=now - timedelta(days=3), recorded_at=now)

    build = services.digest_build_extra(now=now + timedelta(minutes=1))

    assert carried_by(build) == {"Everyone": {retried.pk}}


def test_an_audience_deleted_while_a_build_runs_gets_nothing():
    from digests import selectors

    audience = AudienceFactory(name="Going")
    detected("Ann")
    candidates = selectors.candidates_read([audience], "digest", until=FRIDAY_5PM)
    services.audience_delete(audience, user=None, via="command")

    item = services.builds.audience_build("weekly", audience, candidates, now=FRIDAY_5PM)

    assert item.digest is None and not Receipt.objects.filter(audience=audience).exists()


def test_switching_the_installation_audience_to_alerts_sends_no_flood_of_old_detections():
    from django.utils import timezone

    from tests.factories import everyone_audience

    SeniorDetectionFactory(username="Last month", detected_at=timezone.now() - timedelta(days=30))
    everyone = everyone_audience()
    everyone.cadence = Audience.Cadence.BOTH
    services.audience_save(everyone, user=None, via="command")
    fresh = SeniorDetectionFactory(username="Fresh", detected_at=timezone.now() - timedelta(minutes=5))

    alerts = services.alerts_build_due(now=timezone.now())

    assert [set(item.detection_ids) for item in alerts.audiences] == [{fresh.pk}]


def test_a_deleted_audience_is_renamed_with_its_id_so_its_name_can_be_used_again():
    first = AudienceFactory(name="N" * 100)
    services.digest_build_weekly(now=FRIDAY_5PM)  # nothing: removed, not archived
    detected("Ann")
    services.digest_build_extra(now=FRIDAY_5PM, audience_ids=[first.pk])

    services.audience_delete(first, user=None, via="command", cancel_in_flight=True)
    again = AudienceFactory(name="N" * 100)

    first.refresh_from_db()
    assert first.name == f"{'N' * 60} (deleted #{first.pk}, {first.archived_at:%Y-%m-%d})" and again.pk


def test_an_audience_filtered_by_function_hears_of_those_functions_and_none_ticked_hears_of_all():
    AudienceFactory(name="CFO office", functions=["finance"])
    AudienceFactory(name="Tech leaders", functions=["engineering", "it_security"], levels=["csuite"])
    cfo = detected("Fay", level="csuite", title="CFO", function="finance")
    vp_finance = detected("Vic", title="VP Finance", function="finance")
    cto = detected("Ted", level="csuite", title="CTO", function="engineering")
    detected("Vera", title="VP Engineering", function="engineering")  # a VP: not for Tech leaders
    sales = detected("Sal", title="VP of Sales", function="sales")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    carried = carried_by(build)
    assert carried["CFO office"] == {cfo.pk, vp_finance.pk}
    assert carried["Tech leaders"] == {cto.pk}
    assert sales.pk in carried["Everyone"] and len(carried["Everyone"]) == 5  # no function ticked: every one
    text = DigestDelivery.objects.get(digest__audience__name="CFO office").content["text"]
    assert "- Fay: CFO (C-suite) · Finance" in text and "- Vic: VP Finance (VP) · Finance" in text


def test_the_function_filter_reads_the_member_as_they_are_now():
    """As the level: a reclassification that finds the function after the detection counts."""
    AudienceFactory(name="Sales leaders", functions=["sales"])
    detection = detected("Rae", title="Chief Revenue Officer", level="csuite", function="other")
    SeniorMember.objects.filter(user_id=detection.user_id).update(function="sales")

    build = services.digest_build_weekly(now=FRIDAY_5PM)

    assert carried_by(build)["Sales leaders"] == {detection.pk}
    text = DigestDelivery.objects.get(digest__audience__name="Sales leaders").content["text"]
    assert "- Rae: Chief Revenue Officer (C-suite) · Sales" in text


def test_a_member_no_longer_senior_is_left_out_by_the_function_of_their_detection():
    AudienceFactory(name="CFO office", functions=["finance"])
    AudienceFactory(name="Sales leaders", functions=["sales"])
    gone = detected("Gil", level="csuite", title="CFO", function="finance")
    SeniorMember.objects.filter(user_id=gone.user_id).delete()

    services.digest_build_weekly(now=FRIDAY_5PM)

    left_out = dict(Receipt.objects.filter(detection=gone).values_list("audience__name", "left_out"))
    assert left_out == {"Everyone": "not_senior", "CFO office": "not_senior"}


def test_the_matching_count_and_warning_follow_the_function_filter():
    detected("Fay", level="csuite", title="CFO", function="finance")
    detected("Sal", title="VP of Sales", function="sales")
    finance = AudienceFactory(name="CFO office", functions=["finance"])
    legal = AudienceFactory(name="Legal", functions=["legal"])

    assert services.audience_matching_members(finance) == 1
    assert services.audience_matching_members(AudienceFactory(name="Both", functions=[])) == 2
    assert any("Check the functions" in warning for warning in services.audience_warnings(legal))


def test_a_changed_function_filter_makes_the_next_build_look_again_from_the_start():
    audience = AudienceFactory(name="CFO office", functions=["finance"])
    services.digest_build_weekly(now=FRIDAY_5PM)
    audience.refresh_from_db()
    assert audience.digest_scanned_from is not None

    audience.functions = ["finance", "legal"]
    services.audience_save(audience, user=None, via="command")

    audience.refresh_from_db()
    assert audience.digest_scanned_from is None
