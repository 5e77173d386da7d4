"""The Salesforce client (integrations.salesforce.client) against the fake over HTTP, with the
token in the real Redis cache: one token for every worker, a 401 renews it once, each failure
ends in its typed error, queries follow nextRecordsUrl, and the usage header is read."""

import threading

import pytest

from integrations.salesforce.client import (
    ApiUsage,
    SalesforceClient,
    api_usage_parse,
    salesforce_configured,
    soql_quote,
    task_url,
)
from integrations.salesforce.errors import (
    SalesforceAuthError,
    SalesforceLimitExceeded,
    SalesforceRejected,
    SalesforceUnavailable,
)
from tests.fakes.http import refusing_url
from tests.fakes.salesforce import FakeSalesforce


def rest_calls(fake: FakeSalesforce) -> list[str]:
    return [call.path for call in fake.calls if call.path.startswith("/services/data/")]


# --- the token ------------------------------------------------------------------------------------


def test_fifty_calls_from_two_clients_make_one_token_request(salesforce):
    salesforce.account_add("Acme")
    first, second = SalesforceClient(), SalesforceClient()

    for n in range(50):
        (first if n % 2 else second).query("SELECT Id FROM Account")

    assert salesforce.token_requests == 1
    assert len(rest_calls(salesforce)) == 50


def test_a_burst_on_many_threads_makes_one_token_request(salesforce):
    start, failures = threading.Barrier(12), []

    def call():
        start.wait()
        try:
            SalesforceClient().query("SELECT Id FROM Account")
        except Exception as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert salesforce.token_requests == 1


def test_a_401_renews_the_token_once_and_the_call_succeeds(salesforce):
    salesforce.account_add("Acme")
    client = SalesforceClient()
    client.query("SELECT Id FROM Account")
    salesforce.expire_token()

    records = client.query("SELECT Name FROM Account")

    assert [record["Name"] for record in records] == ["Acme"]
    assert salesforce.token_requests == 2
    assert len(rest_calls(salesforce)) == 3  # the first query, the refused one, the same again


def test_a_create_refused_with_401_is_sent_again_and_makes_one_task(salesforce):
    client = SalesforceClient()
    client.query("SELECT Id FROM Task")
    salesforce.expire_token()

    task_id = client.create("Task", {"Subject": "Call Acme"})

    assert [task["Id"] for task in salesforce.tasks] == [task_id]


def test_a_second_401_with_the_renewed_token_raises_auth_error(salesforce):
    salesforce.expire_token(2)

    with pytest.raises(SalesforceAuthError, match="INVALID_SESSION_ID: Session expired or invalid") as raised:
        SalesforceClient().query("SELECT Id FROM Account")

    assert raised.value.status == 401
    assert raised.value.error_codes == ["INVALID_SESSION_ID"]
    assert salesforce.token_requests == 2


def test_bad_credentials_raise_auth_error_with_the_description(salesforce, settings):
    settings.SALESFORCE_CLIENT_SECRET = "wrong"

    with pytest.raises(SalesforceAuthError, match="invalid_client: invalid client credentials") as raised:
        SalesforceClient().query("SELECT Id FROM Account")

    assert raised.value.status == 400
    assert rest_calls(salesforce) == []


def test_missing_settings_raise_auth_error_without_a_request(settings):
    settings.SALESFORCE_LOGIN_URL = ""

    assert not salesforce_configured()
    with pytest.raises(SalesforceAuthError, match="not configured"):
        SalesforceClient().query("SELECT Id FROM Account")


def test_salesforce_is_configured_with_url_id_and_secret(salesforce, settings):
    assert salesforce_configured()
    settings.SALESFORCE_CLIENT_SECRET = ""
    assert not salesforce_configured()


# --- queries --------------------------------------------------------------------------------------


def test_a_query_follows_next_records_url_across_three_batches(salesforce):
    salesforce.batch_size = 2
    for n in range(5):
        salesforce.account_add(f"Account {n}", website=f"https://a{n}.example.com")

    records = SalesforceClient().query("SELECT Id, Name, Website FROM Account")

    assert [record["Name"] for record in records] == [f"Account {n}" for n in range(5)]
    assert all(record["attributes"]["type"] == "Account" for record in records)
    assert len(rest_calls(salesforce)) == 3
    assert "/query/01g" in rest_calls(salesforce)[1]


def test_a_company_name_with_a_quote_and_a_backslash_is_found(salesforce):
    wanted = salesforce.account_add("O'Reilly \\ Sons")
    salesforce.account_add("O")
    name = soql_quote("o'reilly \\ sons")  # = on text ignores case

    records = SalesforceClient().query(f"SELECT Id FROM Account WHERE Name = {name}")  # noqa: S608 (soql_quote)

    assert name == "'o\\'reilly \\\\ sons'"
    assert [record["Id"] for record in records] == [wanted]


def test_soql_quote_escapes_quotes_backslashes_and_control_characters():
    assert soql_quote("Bob's BBQ") == "'Bob\\'s BBQ'"
    assert soql_quote("a\\b") == "'a\\\\b'"
    assert soql_quote("line\nnext\r\ttab\fff") == "'line\\nnext\\r\\ttab\\fff'"
    assert soql_quote("bell\x07") == "'bell\\u0007'"
    assert soql_quote('100% "sure"_') == "'100% \"sure\"_'"  # LIKE's wildcards and " stay


def test_soql_quote_round_trips_through_the_fakes_parser(salesforce):
    name = 'Tricky \\\' name\n\twith % and _ and "quotes" \x01'
    wanted = salesforce.account_add(name)

    records = SalesforceClient().query(f"SELECT Id, Name FROM Account WHERE Name = {soql_quote(name)}")  # noqa: S608

    assert [(record["Id"], record["Name"]) for record in records] == [(wanted, name)]


def test_a_malformed_query_is_rejected_with_its_error_code(salesforce):
    with pytest.raises(SalesforceRejected) as raised:
        SalesforceClient().query("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'")

    assert raised.value.status == 400
    assert raised.value.error_codes == ["MALFORMED_QUERY"]


# --- creating -------------------------------------------------------------------------------------


def test_create_returns_the_id_and_the_task_is_found_by_its_handoff_key(salesforce):
    account = salesforce.account_add("Acme")
    contact = salesforce.contact_add(account, "jane@acme.example", "Jane", "Doe")
    client = SalesforceClient()

    task_id = client.create(
        "Task",
        {
            "Subject": "Talk to Jane",
            "WhatId": account,
            "WhoId": contact,
            "ActivityDate": "2026-03-02",
            "CaptPathfinder_Handoff_Key__c": "handoff-42",
        },
    )
    found = client.query("SELECT Id, Status FROM Task WHERE CaptPathfinder_Handoff_Key__c = 'handoff-42'")

    assert len(task_id) == 18 and task_id.startswith("00T")
    assert [(record["Id"], record["Status"]) for record in found] == [(task_id, "Not Started")]


def test_a_400_names_the_field(salesforce):
    with pytest.raises(SalesforceRejected, match="No such column 'Bogus__c' on sobject of type Task") as raised:
        SalesforceClient().create("Task", {"Subject": "x", "Bogus__c": "y"})

    assert raised.value.status == 400
    assert raised.value.error_codes == ["INVALID_FIELD"]
    assert raised.value.fields == ["Bogus__c"]


def test_a_validation_rule_names_its_field_and_message(salesforce):
    salesforce.reject_when(lambda fields: not fields.get("Description"), "Describe the hand-off.", ["Description"])

    with pytest.raises(SalesforceRejected, match="FIELD_CUSTOM_VALIDATION_EXCEPTION: Describe the hand-off") as raised:
        SalesforceClient().create("Task", {"Subject": "x"})

    assert raised.value.fields == ["Description"]
    assert salesforce.tasks == []


def test_a_lost_answer_after_create_raises_unavailable_though_the_task_was_made(salesforce):
    salesforce.drop_reply_after_create()

    with pytest.raises(SalesforceUnavailable, match="create Task: no answer"):
        SalesforceClient().create("Task", {"Subject": "x", "CaptPathfinder_Handoff_Key__c": "k-1"})

    assert [task["CaptPathfinder_Handoff_Key__c"] for task in salesforce.tasks] == ["k-1"]


def test_an_sobject_name_is_checked_before_it_goes_into_the_path(salesforce):
    with pytest.raises(ValueError, match="not an sObject API name"):
        SalesforceClient().create("Task/../Account", {})


# --- failures -------------------------------------------------------------------------------------


def test_a_500_raises_unavailable_with_the_whole_error_text(salesforce):
    salesforce.fail_next(1, status=500)

    with pytest.raises(SalesforceUnavailable, match="HTTP 500: UNKNOWN_EXCEPTION: An unexpected error") as raised:
        SalesforceClient().query("SELECT Id FROM Account")

    assert raised.value.status == 500
    assert raised.value.errors[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_a_timeout_raises_unavailable(salesforce, settings):
    settings.SALESFORCE_TIMEOUT_SECONDS = 0.3
    salesforce.hang(2)

    with pytest.raises(SalesforceUnavailable, match="no answer .*Timeout") as raised:
        SalesforceClient().query("SELECT Id FROM Account")

    assert raised.value.status is None


def test_a_refused_connection_raises_unavailable(salesforce, settings):
    settings.SALESFORCE_LOGIN_URL = refusing_url()

    with pytest.raises(SalesforceUnavailable, match="token request: no answer .*ConnectionError"):
        SalesforceClient().query("SELECT Id FROM Account")


def test_an_instance_that_went_away_raises_unavailable(settings):
    fake = FakeSalesforce().start()
    settings.SALESFORCE_LOGIN_URL = fake.url
    settings.SALESFORCE_CLIENT_ID, settings.SALESFORCE_CLIENT_SECRET = fake.client_id, fake.client_secret
    client = SalesforceClient()
    client.query("SELECT Id FROM Account")
    fake.stop()

    with pytest.raises(SalesforceUnavailable, match="query: no answer"):
        client.query("SELECT Id FROM Account")


def test_request_limit_exceeded_raises_limit_exceeded(salesforce):
    salesforce.limit_exceeded(1)

    with pytest.raises(SalesforceLimitExceeded, match="REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded") as raised:
        SalesforceClient().query("SELECT Id FROM Account")

    assert raised.value.status == 403


def test_a_403_that_is_not_the_limit_is_a_rejection(salesforce, monkeypatch):
    from tests.fakes import salesforce as fake_module

    def forbidden(*args, **kwargs):
        raise fake_module.ApiFault(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id")

    monkeypatch.setattr(salesforce, "_create", forbidden)

    with pytest.raises(SalesforceRejected, match="INSUFFICIENT_ACCESS"):
        SalesforceClient().create("Task", {"Subject": "x"})


# --- usage ----------------------------------------------------------------------------------------


def test_last_usage_follows_the_header_of_each_reply_errors_too(salesforce):
    client = SalesforceClient()
    assert client.last_usage is None

    client.query("SELECT Id FROM Account")
    first = client.last_usage
    salesforce.api_used = 13_499
    salesforce.fail_next(1)
    with pytest.raises(SalesforceUnavailable):
        client.query("SELECT Id FROM Account")

    assert first == ApiUsage(used=1, limit=15_000)
    assert client.last_usage == ApiUsage(used=13_500, limit=15_000)
    assert client.last_usage.share == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=25/15000", ApiUsage(25, 15000)),
        ("api-usage=10018/100000; api-bursts=1/750", ApiUsage(10018, 100000)),
        ("per-app-api-usage=17/250(appName=sample-app); api-usage=25/5000", ApiUsage(25, 5000)),
        ("per-app-api-usage=17/250(appName=sample-app)", None),
        ("api-usage=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_api_usage_parse(header, usage):
    assert api_usage_parse(header) == usage


def test_share_is_zero_without_a_limit():
    assert ApiUsage(used=5, limit=0).share == 0


# --- links ----------------------------------------------------------------------------------------


def test_task_url_is_the_instance_url_and_the_id_once_a_token_was_had(salesforce):
    client = SalesforceClient()
    assert client.task_url("00T5g00000000JuEAI") is None

    task_id = client.create("Task", {"Subject": "x"})

    assert client.task_url(task_id) == f"{salesforce.url}/{task_id}"
    assert task_url(task_id) == client.task_url(task_id)
