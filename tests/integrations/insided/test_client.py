"""The inSided client (integrations.insided.client) against the fake, whose replies are checked
against the published User API's schemas (tests/fakes/insided_user_api.schema.json): a contract
test per endpoint. Reading the replies into profiles: test_profiles.py."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import requests

from integrations.insided.client import CommunityClient
from integrations.insided.errors import CommunityError
from tests.fakes.insided import FakeInsided

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(__file__).parents[2] / "fakes" / "insided_user_api.schema.json").read_text())
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


def test_the_member_list_asks_for_the_iterable_form_with_documented_filters(insided, jane):
    insided.add_user(2003, job_title="CEO", joined=datetime(2024, 1, 1, tzinfo=UTC))

    page = CommunityClient().users_page(page=1, page_size=10, filters={"filter[joindate][from]": "2022-01-01"})

    assert [user["userid"] for user in page.users] == [2003]
    assert page.count == 1
    sent = insided.list_requests[-1]
    assert (sent["_returnIterable"], sent["page"], sent["pageSize"]) == ("true", "1", "10")


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
