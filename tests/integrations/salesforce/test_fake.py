"""The fake Salesforce answers in the shapes the REST API Developer Guide documents, asked with
plain `requests` (not our client): the token reply, query replies and paging, the error list, and
the limit header on every REST reply."""

import base64
import hashlib
import hmac

import pytest
import requests

from tests.fakes.salesforce import FakeSalesforce, id_checksum


def token_of(fake: FakeSalesforce) -> dict:
    form = {"grant_type": "client_credentials", "client_id": fake.client_id, "client_secret": fake.client_secret}
    return requests.post(f"{fake.url}/services/oauth2/token", data=form, timeout=5).json()


def get(fake: FakeSalesforce, path: str, token: str | None = None, **params) -> requests.Response:
    token = token or token_of(fake)["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return requests.get(f"{fake.url}/services/data/v62.0{path}", params=params, headers=headers, timeout=5)


def test_the_token_reply_has_the_documented_keys_and_signature(salesforce):
    reply = token_of(salesforce)

    assert set(reply) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert reply["token_type"] == "Bearer"
    assert reply["instance_url"] == salesforce.url
    assert reply["issued_at"].isdigit() and len(reply["issued_at"]) == 13  # epoch milliseconds, a string
    digest = hmac.new(salesforce.client_secret.encode(), (reply["id"] + reply["issued_at"]).encode(), hashlib.sha256)
    assert reply["signature"] == base64.b64encode(digest.digest()).decode()


def test_wrong_credentials_get_the_oauth_error(salesforce):
    form = {"grant_type": "client_credentials", "client_id": salesforce.client_id, "client_secret": "nope"}

    reply = requests.post(f"{salesforce.url}/services/oauth2/token", data=form, timeout=5)

    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}
    assert salesforce.token_requests == 1


def test_a_query_reply_has_the_documented_keys_and_pages(salesforce):
    salesforce.batch_size = 2
    ids = [salesforce.account_add(f"Acme {n}") for n in range(3)]

    first = get(salesforce, "/query", q="select name from account").json()
    rest = requests.get(
        f"{salesforce.url}{first['nextRecordsUrl']}",
        headers={"Authorization": f"Bearer {token_of(salesforce)['access_token']}"},
        timeout=5,
    ).json()

    assert set(first) == {"totalSize", "done", "records", "nextRecordsUrl"}
    assert (first["totalSize"], first["done"], rest["done"]) == (3, False, True)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2")
    assert "nextRecordsUrl" not in rest
    assert first["records"][0] == {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{ids[0]}"},
        "Name": "Acme 0",  # as the schema spells it, whatever the query's case
    }
    assert [record["Name"] for record in first["records"] + rest["records"]] == ["Acme 0", "Acme 1", "Acme 2"]


def test_ids_are_18_characters_with_the_documented_checksum(salesforce):
    account = salesforce.account_add("Acme")

    assert len(account) == 18 and account.startswith("001")
    assert account[15:] == id_checksum(account[:15])
    assert id_checksum("001D000000IRFma") == "IAH"  # the documentation's example id, 001D000000IRFmaIAH


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("Name = 'ACME'", ["Acme"]),
        ("Name LIKE 'ac%'", ["Acme", "Acme 100%"]),
        ("Name LIKE 'Acme 100\\%'", ["Acme 100%"]),
        ("Name IN ('globex', 'acme')", ["Acme", "Globex"]),
        ("Website = null", ["Acme", "Acme 100%", "O'Hara"]),
        ("Name = 'Acme' OR Name = 'Globex'", ["Acme", "Globex"]),
        ("Name LIKE 'A%' AND Website = null", ["Acme", "Acme 100%"]),
        ("Name = 'O\\'Hara'", ["O'Hara"]),
    ],
)
def test_the_soql_subset_filters_as_documented(salesforce, where, names):
    for name in ("Acme", "Acme 100%", "O'Hara"):
        salesforce.account_add(name)
    salesforce.account_add("Globex", website="https://globex.example")
    salesforce.account_add("O'Hara Globex", website="https://ohara.example")

    reply = get(salesforce, "/query", q=f"SELECT Name FROM Account WHERE {where} ORDER BY Name")  # noqa: S608

    assert reply.status_code == 200, reply.text
    assert [record["Name"] for record in reply.json()["records"]] == names


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE (Name = 'a')", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'a\\z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Account", "MALFORMED_QUERY"),
        ("SELECT Bogus FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Bogus", "INVALID_TYPE"),
    ],
)
def test_what_the_subset_cannot_judge_is_an_error_in_the_documented_list(salesforce, soql, code):
    reply = get(salesforce, "/query", q=soql)

    assert reply.status_code == 400
    (error,) = reply.json()
    assert set(error) == {"message", "errorCode", "fields"} and error["errorCode"] == code


def test_a_create_answers_201_and_an_unknown_field_400_invalid_field(salesforce):
    token = token_of(salesforce)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{salesforce.url}/services/data/v62.0/sobjects/Task/"

    made = requests.post(url, json={"Subject": "Hi"}, headers=headers, timeout=5)
    refused = requests.post(url, json={"Subject": "Hi", "Nope__c": 1}, headers=headers, timeout=5)

    assert made.status_code == 201
    assert set(made.json()) == {"id", "success", "errors"} and made.json()["success"] is True
    assert refused.status_code == 400
    assert refused.json() == [
        {
            "message": "No such column 'Nope__c' on sobject of type Task",
            "errorCode": "INVALID_FIELD",
            "fields": ["Nope__c"],
        }
    ]


def test_an_upsert_creates_then_updates_and_several_matches_answer_300(salesforce):
    headers = {"Authorization": f"Bearer {token_of(salesforce)['access_token']}"}
    url = f"{salesforce.url}/services/data/v62.0/sobjects/Task/CaptPathfinder_Handoff_Key__c/key-1"

    created = requests.patch(url, json={"Subject": "First"}, headers=headers, timeout=5)
    updated = requests.patch(url, json={"Subject": "Second"}, headers=headers, timeout=5)
    salesforce.record_add("Task", {"CaptPathfinder_Handoff_Key__c": "key-1"})
    several = requests.patch(url, json={"Subject": "Third"}, headers=headers, timeout=5)
    not_external = requests.patch(url.replace("CaptPathfinder_Handoff_Key__c", "Subject"), json={}, headers=headers,
                                  timeout=5)  # fmt: skip

    assert (created.status_code, created.json()["created"]) == (201, True)
    assert (updated.status_code, updated.json()) == (200, {**created.json(), "created": False})
    assert [task["Subject"] for task in salesforce.tasks if task["Id"] == created.json()["id"]] == ["Second"]
    assert several.status_code == 300 and len(several.json()) == 2
    assert not_external.status_code == 404 and not_external.json()[0]["errorCode"] == "NOT_FOUND"


def test_every_rest_reply_carries_the_limit_header_401s_too(salesforce):
    salesforce.api_used, salesforce.api_limit = 99, 5000

    answered = get(salesforce, "/query", q="SELECT Id FROM Account")
    refused = get(salesforce, "/query", token="not-a-token", q="SELECT Id FROM Account")

    assert answered.headers["Sforce-Limit-Info"] == "api-usage=100/5000"
    assert refused.status_code == 401
    assert refused.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=101/5000"


def test_the_limit_refuses_once_usage_is_over_it(salesforce):
    salesforce.api_used, salesforce.api_limit = 10, 10

    reply = get(salesforce, "/query", q="SELECT Id FROM Account")

    assert reply.status_code == 403
    assert reply.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
