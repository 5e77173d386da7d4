"""The inSided User API's replies read into our terms (integrations.insided.profiles): both
documented shapes of a user, the configured field names, and what the service keeps of a profile."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from core.text import MAX_TITLE_LENGTH
from detections.models import SeniorMember
from integrations.insided.client import CommunityClient
from integrations.insided.errors import CommunityError
from integrations.insided.profiles import profile_from_user, user_id_of, user_id_problem
from tests.fakes.insided import spec_found_user

pytestmark = pytest.mark.django_db

JOINED = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_a_find_by_reply_reads_the_same_profile(insided):
    jane = insided.add_user(
        2000, username="Jane Doe", job_title="VP of Sales", country="Germany", company="Acme", joined=JOINED
    )

    profile = profile_from_user(spec_found_user(jane), user_id="2000")

    assert (profile.job_title, profile.country, profile.company, profile.joined_at) == (
        "VP of Sales",
        "Germany",
        "Acme",
        JOINED,
    )


def test_field_names_are_settings_matched_in_any_case(insided, settings):
    settings.COMMUNITY_FIELD_JOB_TITLE = "function"
    insided.add_user(2001, fields={"Function": "Chief Executive Officer", "Country": "Chile", "Company": "Acme"})

    assert CommunityClient().profile_get("2001").job_title == "Chief Executive Officer"


def test_a_configured_field_the_profile_lacks_is_reported_and_counted(insided):
    insided.add_user(2002, job_title="CFO", company="Acme")  # no Country field
    before = REGISTRY.get_sample_value("captpathfinder_community_fields_missing_total", {"field": "Country"}) or 0

    profile = CommunityClient().profile_get("2002")

    assert profile.missing == ("Country",)
    assert "'Country'" in profile.missing_text and "2002" in profile.missing_text
    after = REGISTRY.get_sample_value("captpathfinder_community_fields_missing_total", {"field": "Country"})
    assert after == before + 1


def test_a_user_without_profile_fields_is_an_error_not_an_empty_profile():
    with pytest.raises(CommunityError, match="no profile fields"):
        profile_from_user({"userid": 5, "username": "x", "joindate": 0}, user_id="5")


# --- what the service keeps of a profile --------------------------------------------------------


def test_profile_values_longer_than_their_columns_are_cut_to_them_with_a_marker(insided):
    insided.add_user(2004, username="U" * 300, job_title="VP " + "x" * 1200, country="C" * 300, company="A" * 300)

    profile = CommunityClient().profile_get("2004")

    for name in ("username", "country", "company"):
        value, limit = getattr(profile, name), SeniorMember._meta.get_field(name).max_length
        assert len(value) == limit and value.endswith("…"), name
    assert len(profile.job_title) == MAX_TITLE_LENGTH and profile.job_title.startswith("VP x")
    assert profile.missing_text == ""  # cut, not refused


def test_a_nul_which_postgresql_refuses_in_text_is_shown_as_the_replacement_character(insided):
    insided.add_user(2006, username="Ann\x00", job_title="CEO\x00", company="Acme\x00 Inc")

    profile = CommunityClient().profile_get("2006")

    assert (profile.username, profile.job_title, profile.company) == ("Ann\ufffd", "CEO\ufffd", "Acme\ufffd Inc")


def test_a_join_date_out_of_range_is_left_out_and_said(insided):
    insided.add_user(2005, job_title="CEO", country="Chile", company="Acme", joined=datetime(1, 1, 1, tzinfo=UTC))

    profile = CommunityClient().profile_get("2005")

    assert profile.joined_at is None and profile.job_title == "CEO"
    assert profile.missing_text == (
        "community profile of user 2005 has joindate '-62135596800', which must be from 1900-01-01 up to "
        "2200-01-01, New York time"
    )


# --- user ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"), [({"userid": 42}, "42"), ({"userid": " p1-7 "}, "p1-7"), ({"userid": True}, None), ({}, None)]
)
def test_a_listed_users_id_is_read_as_text_or_not_at_all(user, expected):
    assert user_id_of(user) == expected


@pytest.mark.parametrize(
    ("user_id", "problem"),
    [
        ("2000", None),
        ("p1-1067.x_y", None),
        ("..", "must be letters"),
        ("a/b", "must be letters"),
        ("9" * 65, "at most 64"),
    ],
)
def test_the_user_ids_the_service_keeps(user_id, problem):
    found = user_id_problem(user_id)

    assert found is None if problem is None else problem in found
