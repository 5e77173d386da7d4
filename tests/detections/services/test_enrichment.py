"""Enrichment from the community profile, through the fake inSided API."""

from datetime import UTC, datetime

import pytest
from django.db import OperationalError

from detections import tasks
from detections.models import Detection, SeniorMember
from detections.services.enrichment import member_enrich
from detections.services.members import MemberStates
from detections.services.processing import events_drain
from integrations.insided.client import TRANSIENT_ERRORS
from integrations.insided.profiles import CommunityProfile
from tests.detections.services.helpers import receive
from tests.factories import SeniorMemberFactory
from tests.fakes.http import refusing_url

pytestmark = pytest.mark.django_db


def test_enrichment_fills_missing_fields_and_the_unsent_detection(insided):
    insided.add_user(20, job_title="VP Sales", country="Canada", company="Initech")
    receive(user_id="20", value="VP Sales")
    events_drain()

    assert member_enrich(user_id="20") is True

    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.enrichment_error) == ("Canada", "Initech", "")
    assert member.enriched_at is not None
    assert Detection.objects.get().company == "Initech"


def test_enrichment_does_not_overwrite_fields_from_the_webhook(insided):
    insided.add_user(21, job_title="VP Sales", country="Canada", company="Initech")
    receive(user_id="21", value="VP Sales", company="Acme")
    events_drain()

    member_enrich(user_id="21")

    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("Canada", "Acme")


def test_enrichment_token_is_cached_until_near_expiry(insided):
    insided.add_user(22, job_title="CEO")
    insided.add_user(23, job_title="CEO")
    SeniorMemberFactory(user_id="22")
    SeniorMemberFactory(user_id="23")

    member_enrich(user_id="22")
    member_enrich(user_id="23")

    assert insided.token_requests == 1
    assert insided.user_requests == 2


def test_enrichment_reauthenticates_once_when_the_token_is_refused(insided):
    insided.add_user(24, job_title="CEO", country="Japan", company="Acme")
    SeniorMemberFactory(user_id="24", country="")
    member_enrich(user_id="24")
    insided.revoke_tokens()
    SeniorMember.objects.filter(pk="24").update(country="")

    assert member_enrich(user_id="24") is True
    assert insided.token_requests == 2
    assert SeniorMember.objects.get().country == "Japan"


def test_enrichment_retries_transient_errors(insided):
    insided.add_user(25, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="25", country="")
    insided.failures = [503, 429]

    assert member_enrich(user_id="25") is True
    assert SeniorMember.objects.get().country == "Chile"


def test_enrichment_failure_leaves_member_recorded_with_the_error(insided):
    SeniorMemberFactory(user_id="26", country="")  # unknown to the community: 404

    assert member_enrich(user_id="26") is False

    member = SeniorMember.objects.get()
    assert member.country == ""
    assert "404" in member.enrichment_error


def test_enrichment_of_someone_no_longer_senior_does_nothing(insided):
    assert member_enrich(user_id="404") is False
    assert insided.user_requests == 0


def test_a_profile_field_the_community_lacks_is_an_error_on_the_member_not_a_silent_success(insided):
    insided.add_user(27, job_title="CEO", country="Chile")  # the profile has no Company field
    SeniorMemberFactory(user_id="27", country="", company="")

    assert member_enrich(user_id="27") is False

    member = SeniorMember.objects.get()
    assert member.country == "Chile"  # what the profile had is filled
    assert "no 'Company' profile field" in member.enrichment_error


def test_a_company_longer_than_its_column_is_stored_cut_with_a_marker(insided):
    insided.add_user(28, job_title="CEO", country="Chile", company="A" * 300)
    SeniorMemberFactory(user_id="28", country="", company="")

    assert member_enrich(user_id="28") is True

    member = SeniorMember.objects.get()
    assert member.company == "A" * 254 + "…" and member.enrichment_error == ""


def test_a_join_date_out_of_range_is_left_out_and_recorded(insided):
    insided.add_user(29, job_title="CEO", country="Chile", company="Acme", joined=datetime(1, 1, 1, tzinfo=UTC))
    SeniorMemberFactory(user_id="29", country="", company="", joined_at=None)

    assert member_enrich(user_id="29") is False

    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.joined_at) == ("Chile", "Acme", None)
    assert "must be from 1900-01-01 up to 2200-01-01, New York time" in member.enrichment_error


def test_a_profile_that_cannot_be_stored_is_recorded_not_retried_in_vain(insided, monkeypatch):
    insided.add_user(30, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="30", country="", company="")
    # A value the database refuses, as an uncut 300-character company was before
    monkeypatch.setattr(CommunityProfile, "attributes", lambda profile: {"country": "Chile", "company": "A" * 300})

    assert member_enrich(user_id="30") is False

    member = SeniorMember.objects.get()
    assert (member.country, member.company) == ("", "")  # nothing of the profile that failed
    assert member.enrichment_error.startswith("community profile could not be stored: DataError: value too long")


def test_the_database_being_away_is_left_to_the_tasks_retries(insided, monkeypatch):
    insided.add_user(31, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="31", country="")

    def away(states):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(MemberStates, "save", away)

    with pytest.raises(OperationalError):
        member_enrich(user_id="31")


# --- the community down: the task's retries ---------------------------------------------------


@pytest.mark.parametrize("outage", ["503", "connection refused"])
def test_enrichment_during_an_outage_is_raised_for_a_retry_and_records_nothing(insided, settings, outage):
    insided.add_user(32, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="32", country="")
    if outage == "503":
        insided.failures = [503] * 3  # every quick retry of this try
    else:
        settings.COMMUNITY_API_URL = refusing_url()

    with pytest.raises(TRANSIENT_ERRORS):
        member_enrich(user_id="32", final=False)

    member = SeniorMember.objects.get()
    assert (member.country, member.enriched_at, member.enrichment_error) == ("", None, "")


# task.apply() runs the worker's connection checks around the task (captpathfinder/celery.py), which
# close a connection inside a test's transaction; and it runs a retry at once, without its wait.


@pytest.mark.django_db(transaction=True)
def test_the_enrichment_task_retries_an_outage_and_a_later_try_fills_the_member(insided):
    insided.add_user(33, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="33", country="", company="")
    insided.failures = [503] * 3  # the first try

    assert tasks.member_enrich.apply(args=["33"]).get() is True

    assert insided.user_requests == 4
    member = SeniorMember.objects.get()
    assert (member.country, member.company, member.enrichment_error) == ("Chile", "Acme", "")


@pytest.mark.django_db(transaction=True)
def test_the_enrichment_task_records_an_outage_only_on_its_last_try(insided):
    insided.add_user(34, job_title="CEO", country="Chile", company="Acme")
    SeniorMemberFactory(user_id="34", country="")
    insided.failures = [503] * 6  # the last two tries
    last = tasks.member_enrich.max_retries

    assert tasks.member_enrich.apply(args=["34"], retries=last - 1).get() is False

    assert insided.user_requests == 6  # the one before the last raised for its retry; the last recorded
    member = SeniorMember.objects.get()
    assert (member.country, member.enriched_at) == ("", None)
    assert member.enrichment_error == "user 34: HTTP 503: Internal Server Error"
