"""The inSided client against the fake, whose replies are checked against the published User API's
schemas (tests/fakes/insided_user_api.schema.json): a contract test per endpoint."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import requests
from prometheus_client import REGISTRY

from detections import community
from detections.community import CommunityClient, CommunityError, profile_from_user
from detections.models import SeniorMember
from detections.payloads import MAX_TITLE_LENGTH
from tests.fakes.insided import FakeInsided, spec_found_user

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(__file__).parents[1] / "fakes" / "insided_user_api.schema.json").read_text())
JOINED = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def assert_matches_spec(body, definition: str) -> None:
    jsonschema.validate(body, {**SCHEMA, "$ref": f"#/$defs/{definition}"})


def get(fake: FakeInsided, path: str, **params) -> requests.Response:
    token = requests.post(
        f"{fake.url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret},
        timeout=5,
    ).json()["access_token"]
    return requests.get(f"{fake.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=5)


@pytest.fixture
def jane(insided):
    return insided.add_user(
        2000, username="Jane Doe", job_title="VP of Sales", country="Germany", company="Acme", joined=JOINED
    )


# --- the fake answers as the spec says ----------------------------------------------------------


def test_the_fakes_user_is_the_specs_user(insided, jane):
    reply = get(insided, "/user/2000")

    assert reply.status_code == 200
    assert_matches_spec(reply.json(), "User")
    assert reply.json()["joindate"] == int(JOINED.timestamp())  # Unix seconds, not a string


def test_the_fakes_member_list_is_the_specs_in_both_forms(insided, jane):
    iterable = get(insided, "/user", page=1, pageSize=10, _returnIterable="true").json()
    keyed = get(insided, "/user", page=1, pageSize=10).json()

    assert_matches_spec(iterable, "IterableUserResponse")
    assert_matches_spec(keyed, "UserResponse")
    assert iterable["statistics"] == {"count": 1}
    assert [user["userid"] for user in iterable["users"]] == [2000]


def test_the_fakes_find_by_reply_is_the_specs(insided, jane):
    reply = get(insided, "/user/email/jane.doe@example.com").json()

    assert_matches_spec(reply["result"], "FindByUserResponse")
    assert reply["result"]["joindate"] == JOINED.isoformat()


def test_the_fakes_server_error_is_the_specs(insided, jane):
    insided.failures = [500]

    reply = get(insided, "/user/2000")

    assert reply.status_code == 500
    assert_matches_spec(reply.json(), "Exception")


# --- the client reads what the spec says -------------------------------------------------------


def test_a_profile_is_read_from_related_userprofilefields(insided, jane):
    profile = CommunityClient().profile_get("2000")

    assert (profile.username, profile.job_title, profile.country, profile.company) == (
        "Jane Doe",
        "VP of Sales",
        "Germany",
        "Acme",
    )
    assert profile.joined_at == JOINED
    assert profile.missing == ()


def test_a_find_by_reply_reads_the_same_profile(jane):
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


def test_the_member_list_asks_for_the_iterable_form_with_documented_filters(insided, jane):
    insided.add_user(2003, job_title="CEO", joined=datetime(2024, 1, 1, tzinfo=UTC))

    page = CommunityClient().users_page(page=1, page_size=10, filters={"filter[joindate][from]": "2022-01-01"})

    assert [user["userid"] for user in page.users] == [2003]
    assert page.count == 1
    sent = insided.list_requests[-1]
    assert (sent["_returnIterable"], sent["page"], sent["pageSize"]) == ("true", "1", "10")


def test_the_rate_limiter_spaces_calls(monkeypatch):
    clock, sleeps = [100.0], []
    monkeypatch.setattr(community.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(
        community.time, "sleep", lambda seconds: (sleeps.append(seconds), clock.__setitem__(0, clock[0] + seconds))
    )
    limiter = community.RateLimiter(4)

    for _ in range(5):
        limiter.wait()

    assert sleeps == pytest.approx([0.25, 0.25, 0.25, 0.25])


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


def test_a_user_id_goes_into_the_url_as_one_encoded_path_segment(insided):
    session, asked = requests.Session(), []
    session.hooks["response"].append(lambda response, *args, **kwargs: asked.append(response.request.url))

    with pytest.raises(CommunityError):
        CommunityClient(session=session).user_get("p1-1067/../x")

    assert asked[-1] == f"{insided.url}/user/p1-1067%2F..%2Fx"


def test_a_listed_userid_outside_the_safe_set_stops_the_listing_with_an_error(monkeypatch):
    client = CommunityClient(base_url="http://community.invalid")
    monkeypatch.setattr(client, "users_pages", lambda **kwargs: iter([(1, [{"userid": 7}, {"userid": "p1/../x"}])]))

    listed = client.users_holding({"filter[roles.rolename][]": "roles.Executives"}, page_size=10)

    assert next(listed) == "7"
    with pytest.raises(CommunityError, match=r"user list page 1: userid 'p1/\.\./x' must be letters, digits"):
        next(listed)
