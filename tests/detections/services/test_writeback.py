"""The community write-back: roles and badges given and taken through the fake inSided API."""

import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from access.models import AuditEntry
from core.rates import RateLimiter
from detections.models import CommunityGrant, SeniorMember
from detections.services import writeback
from detections.services.corrections import member_correct
from detections.services.processing import events_drain
from integrations.insided.client import CommunityClient
from tests.detections.services.helpers import receive
from tests.factories import SeniorMemberFactory

pytestmark = pytest.mark.django_db

ROLE, BADGE = "roles.Executives", 7
Status = CommunityGrant.Status


@pytest.fixture
def community(insided, settings):
    """The fake community with the write-back's role and badge, and the write-back configured."""
    insided.add_role(ROLE)
    insided.add_badge(BADGE)
    settings.COMMUNITY_WRITEBACK_ROLE = ROLE
    settings.COMMUNITY_WRITEBACK_BADGE_ID = str(BADGE)
    settings.COMMUNITY_WRITEBACK_REQUESTS_PER_SECOND = 1000
    settings.COMMUNITY_WRITEBACK_RETRY_SCHEDULE = [60, 300]
    return insided


def ask(levels: dict):
    """Members as they now stand ({user_id: level or None}), and the write-back asked for them, as the
    member state machine asks."""
    for user_id, level in levels.items():
        if level is None:
            SeniorMember.objects.filter(pk=user_id).delete()
        else:
            SeniorMemberFactory(user_id=user_id, level=level)
    writeback.members_holding_set(levels)


def rows():
    return {(g.user_id, g.kind, g.wanted, g.status, g.result) for g in CommunityGrant.objects.all()}


def test_off_without_a_role_or_badge_and_no_rows_are_written(insided):
    insided.add_user(30, job_title="VP Sales")
    receive(user_id="30", value="VP Sales")
    events_drain()

    assert writeback.writeback_targets() == []
    assert not CommunityGrant.objects.exists()


def test_a_new_senior_member_gets_the_role_and_badge_and_loses_them_when_no_longer_senior(community):
    community.add_user(31, job_title="VP Sales")
    receive(user_id="31", value="VP Sales")
    events_drain()

    assert writeback.grants_write_due().written == 2
    assert ROLE in community.roles_of(31)
    assert community.holders_of_badge(BADGE) == {"31"}
    assert rows() == {
        ("31", "role", True, Status.DONE, "role given"),
        ("31", "badge", True, Status.DONE, "badge awarded"),
    }

    receive(user_id="31", value="Sales Manager", old_value="VP Sales")
    events_drain()
    writeback.grants_write_due()

    assert ROLE not in community.roles_of(31)
    assert "roles.registered" in community.roles_of(31)  # the member's main role is left alone
    assert community.holders_of_badge(BADGE) == set()
    assert rows() == {
        ("31", "role", False, Status.DONE, "role taken away"),
        ("31", "badge", False, Status.DONE, "badge taken away"),
    }
    assert ("DELETE", f"/user/31/role/{ROLE}", 204) in community.writes


def test_a_promotion_or_a_change_within_the_levels_asks_for_nothing(community):
    community.add_user(32, job_title="VP Sales")
    receive(user_id="32", value="VP Sales")
    events_drain()
    writeback.grants_write_due()
    writes = len(community.writes)

    receive(user_id="32", value="Chief Executive Officer", old_value="VP Sales")
    events_drain()

    assert writeback.grants_write_due().written == 0
    assert len(community.writes) == writes


def test_only_the_configured_levels_hold_them(community, settings):
    settings.COMMUNITY_WRITEBACK_LEVELS = ["csuite"]
    community.add_user(33, job_title="VP Sales")
    receive(user_id="33", value="VP Sales")
    events_drain()
    assert not CommunityGrant.objects.exists()

    receive(user_id="33", value="Chief Revenue Officer", old_value="VP Sales")
    events_drain()
    writeback.grants_write_due()
    assert ROLE in community.roles_of(33)

    receive(user_id="33", value="SVP Sales", old_value="Chief Revenue Officer")
    events_drain()
    writeback.grants_write_due()
    assert ROLE not in community.roles_of(33)
    assert CommunityGrant.objects.filter(kind="role").get().reason == "vp: not in COMMUNITY_WRITEBACK_LEVELS"


def test_an_operators_correction_takes_the_role_away(community, admin_user):
    community.add_user(34, job_title="VP of Vibes")
    receive(user_id="34", value="VP of Vibes")
    events_drain()
    writeback.grants_write_due()
    assert ROLE in community.roles_of(34)

    member_correct(user_id="34", level="none", note="a joke title", user=admin_user, via="admin")
    writeback.grants_write_due()

    assert ROLE not in community.roles_of(34)
    assert community.holders_of_badge(BADGE) == set()


def test_writes_ask_for_a_write_scoped_token_and_a_read_token_is_refused(community):
    community.add_user(35, job_title="CEO")
    ask({"35": "csuite"})
    token = CommunityClient()._token(scope="read")

    client = CommunityClient()
    client._token = lambda refresh=False, scope="read": token  # a client that sends its read token
    assert writeback.grants_write_due(client=client).failed == 2
    assert "HTTP 403: Forbidden (changes need credentials with the `write` scope)" in (
        CommunityGrant.objects.filter(kind="role").get().last_error
    )

    CommunityGrant.objects.update(status=Status.PENDING)
    assert writeback.grants_write_due().written == 2  # the client asks for scope=write


def test_a_server_error_is_retried_on_schedule_then_failed_and_visible(community, settings):
    settings.COMMUNITY_WRITEBACK_BADGE_ID = ""
    community.add_user(36, job_title="CEO")
    ask({"36": "csuite", "37": "csuite"})
    community.write_failures = [500] * 3  # the client's three quick tries at the first change

    report = writeback.grants_write_due()

    # The run stops at the first change not answered: the community is struggling.
    assert (report.retrying, report.written, report.more) == (1, 0, True)
    grant = CommunityGrant.objects.get(user_id="36")
    assert (grant.status, grant.attempts) == (Status.PENDING, 1)
    assert "HTTP 500: Internal Server Error" in grant.last_error
    assert (grant.next_attempt_at - grant.updated_at).total_seconds() == pytest.approx(60, abs=1)

    CommunityGrant.objects.filter(user_id="37").delete()
    community.write_failures = [503] * 6
    for _retry in range(2):  # a schedule of two retries
        CommunityGrant.objects.update(next_attempt_at=grant.updated_at)
        writeback.grants_write_due()
    grant.refresh_from_db()
    assert (grant.status, grant.attempts) == (Status.FAILED, 3)
    assert "HTTP 503" in grant.last_error

    # An operator retries it once the community is back.
    assert writeback.grants_retry([grant.pk], user=None, via="admin") == 1
    assert writeback.grants_write_due().written == 1
    assert ROLE in community.roles_of(36)


def test_a_badge_that_does_not_exist_fails_at_once_and_says_which_setting(community, settings):
    settings.COMMUNITY_WRITEBACK_BADGE_ID = "99"
    community.add_user(37, job_title="CEO")
    ask({"37": "csuite"})

    writeback.grants_write_due()

    badge = CommunityGrant.objects.get(kind="badge")
    assert badge.status == Status.FAILED and badge.attempts == 1
    assert "no badge '99' (COMMUNITY_WRITEBACK_BADGE_ID)" in badge.last_error
    assert ROLE in community.roles_of(37)  # the role is written regardless


def test_a_member_gone_from_the_community_or_not_holding_it_is_nothing_to_do(community, settings):
    settings.COMMUNITY_WRITEBACK_TAKE_FROM = "everyone"  # so the take-aways reach the community
    community.add_user(38, job_title="Engineer")
    ask({"38": None, "39": "vp"})  # 39 is not in the community

    assert writeback.grants_write_due().written == 4
    assert rows() == {
        ("38", "role", False, Status.DONE, "role not held"),
        ("38", "badge", False, Status.DONE, "badge not held"),
        ("39", "role", True, Status.DONE, "not in the community"),
        ("39", "badge", True, Status.DONE, "not in the community"),
    }


def test_revoking_a_main_role_is_the_documented_validation_error(community, settings):
    settings.COMMUNITY_WRITEBACK_TAKE_FROM = "everyone"  # so the take-away reaches the community
    settings.COMMUNITY_WRITEBACK_ROLE = "roles.registered"
    settings.COMMUNITY_WRITEBACK_BADGE_ID = ""
    community.add_user(40, job_title="Engineer")
    ask({"40": None})

    writeback.grants_write_due()

    assert "HTTP 422" in CommunityGrant.objects.get().last_error


def test_a_change_asked_for_while_one_is_written_is_not_lost(community):
    community.add_user(41, job_title="VP Sales")
    ask({"41": "vp"})
    grant = CommunityGrant.objects.get(kind="role")
    ask({"41": None})  # the member stopped being senior meanwhile

    writeback.grant_write(CommunityClient(), grant)  # the writer had read the earlier generation

    grant.refresh_from_db()
    assert (grant.wanted, grant.status, grant.generation) == (False, Status.PENDING, 2)
    writeback.grants_write_due()
    assert ROLE not in community.roles_of(41)


def test_one_writer_at_a_time(community):
    from django.db import connections

    from detections.locks import COMMUNITY_WRITER_LOCK_KEY

    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, 0)", [COMMUNITY_WRITER_LOCK_KEY])
    community.add_user(42, job_title="VP Sales")
    try:
        ask({"42": "vp"})
        assert writeback.grants_write_due().busy is True
        assert CommunityGrant.objects.filter(status=Status.PENDING).count() == 2
    finally:
        with other.cursor() as cursor:  # before closing: a closed session's locks go a moment later
            cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [COMMUNITY_WRITER_LOCK_KEY])
        other.close()
    assert writeback.grants_write_due().written == 2


def test_writes_keep_to_the_rate_limit(community, settings):
    for user_id in range(50, 56):
        community.add_user(user_id, job_title="CEO")
    ask({str(u): "csuite" for u in range(50, 56)})
    # The fake answers 429 to two arrivals closer than 1/12 s. The client sends 0.25 s apart; three
    # times its rate leaves 170 ms for a loaded machine to delay one request and not the next (at 6/s,
    # 80 ms was not always enough under CI). Unthrottled, the writes arrive milliseconds apart.
    community.max_per_second = 12

    client = CommunityClient(limiter=RateLimiter(4))
    started = time.monotonic()
    assert writeback.grants_write_due(client=client).written == 12
    assert time.monotonic() - started >= 11 * 0.25  # twelve requests, a quarter of a second apart
    statuses = [status for _, _, status in community.writes]
    assert 429 not in statuses and len(statuses) == 12


def drifted(community):
    """60 senior without the role, 61 senior with it, 62 given it by hand and not senior, 63 given it
    by the write-back and no longer senior."""
    for user_id in (60, 61, 62, 63):
        community.add_user(user_id, job_title="x")
    SeniorMemberFactory(user_id="60", level="vp")
    SeniorMemberFactory(user_id="61", level="csuite")
    community.role_give(61, ROLE)
    community.role_give(62, ROLE)  # by a community manager
    community.role_give(63, ROLE)
    CommunityGrant.objects.create(user_id="63", kind="role", name=ROLE, wanted=True, status="done",
                                  result="role given", given_by_us=True)  # fmt: skip
    community.badge_holders[BADGE] = {"61"}


def test_community_sync_dry_run_shows_drift_and_who_it_leaves_alone(community, capsys):
    drifted(community)

    call_command("community_sync", "--dry-run")

    out = capsys.readouterr().out
    assert (
        "role 'roles.Executives': 1 to give (60), 1 to take away (63); "
        "1 not senior but not given by the write-back, left alone (62)"
    ) in out
    assert "badge 7: 1 to give (60), 0 to take away (none)" in out
    assert "Dry run: nothing changed." in out
    assert community.writes == [] and CommunityGrant.objects.count() == 1


def test_community_sync_fixes_the_drift_prints_it_and_is_audited(community, capsys):
    drifted(community)

    call_command("community_sync")

    out = capsys.readouterr().out
    assert "give role roles.Executives — user 60: role given" in out
    assert "take away role roles.Executives — user 63: role taken away" in out
    assert "give badge 7 — user 60: badge awarded" in out
    assert "Changed 3; failed 0; waiting for a retry 0." in out
    assert {u for u in ("60", "61", "62", "63") if ROLE in community.roles_of(u)} == {"60", "61", "62"}
    assert community.holders_of_badge(BADGE) == {"60", "61"}
    assert AuditEntry.objects.get(action="community.sync").details["drift"]["role 'roles.Executives'"] == {
        "give": 1,
        "take": 1,
    }

    call_command("community_sync", "--dry-run")
    assert "1 to give" not in (out := capsys.readouterr().out) and "0 to take away (none); 1 not senior" in out


def test_taking_from_everyone_is_an_explicit_setting(community, settings, capsys):
    settings.COMMUNITY_WRITEBACK_TAKE_FROM = "everyone"
    drifted(community)

    call_command("community_sync", "--dry-run")
    assert "1 to give (60), 2 to take away (62, 63)\n" in capsys.readouterr().out
    call_command("community_sync")

    assert {u for u in ("60", "61", "62", "63") if ROLE in community.roles_of(u)} == {"60", "61"}


def test_a_role_held_by_hand_before_is_not_taken_when_the_member_stops_being_senior(community):
    community.add_user(35, job_title="VP Sales")
    community.role_give(35, ROLE)  # a community manager's grant, before they were senior
    receive(user_id="35", value="VP Sales")
    events_drain()
    writeback.grants_write_due()
    given = rows()

    receive(user_id="35", value="Sales Manager", old_value="VP Sales")
    events_drain()
    writeback.grants_write_due()

    assert ("35", "role", True, Status.DONE, "role already held") in given
    assert ROLE in community.roles_of(35)  # still theirs
    assert community.holders_of_badge(BADGE) == set()  # the badge was the write-back's: taken away
    assert rows() == {
        ("35", "role", False, Status.DONE, writeback.LEFT_ALONE),
        ("35", "badge", False, Status.DONE, "badge taken away"),
    }
    assert not [w for w in community.writes if w[0] == "DELETE" and "/role/" in w[1]]


def test_community_sync_pages_through_the_holders(community, settings, capsys):
    settings.COMMUNITY_USERS_PAGE_SIZE = 2
    for user_id in range(70, 75):
        community.add_user(user_id, job_title="x")
        community.role_give(user_id, ROLE)
        SeniorMemberFactory(user_id=str(user_id), level="vp")

    call_command("community_sync", "--dry-run")

    assert "role 'roles.Executives': 0 to give (none), 0 to take away (none)" in capsys.readouterr().out
    pages = [r["page"] for r in community.list_requests if "filter[roles.rolename][]" in r]
    assert pages == ["1", "2", "3"]


def test_community_sync_refuses_when_the_write_back_is_off(insided):
    with pytest.raises(CommandError, match="COMMUNITY_WRITEBACK_ROLE"):
        call_command("community_sync", "--dry-run")


def test_community_sync_fails_loudly_when_the_community_cannot_be_read(community):
    community.page_failures[1] = [500] * 3
    with pytest.raises(CommandError, match="could not be read: user list page 1: HTTP 500"):
        call_command("community_sync", "--dry-run")


def test_a_change_out_of_date_is_written_as_the_member_stands_now(community, settings):
    """A sync listed the community while the member stopped being senior: the writer takes the role
    away instead of giving it back."""
    settings.COMMUNITY_WRITEBACK_TAKE_FROM = "everyone"  # so the take-away reaches the community
    community.add_user(43, job_title="Engineer")
    writeback.grants_ask([writeback.Change("43", writeback.Target("role", ROLE), True, "community_sync: lacks it")])

    assert writeback.grants_write_due().written == 1

    grant = CommunityGrant.objects.get()
    assert (grant.wanted, grant.reason, grant.result) == (False, "changed since asked: not senior", "role not held")
    assert ROLE not in community.roles_of(43)


def test_a_change_for_a_role_no_longer_configured_fails_and_says_so(community, settings):
    community.add_user(44, job_title="CEO")
    ask({"44": "csuite"})
    settings.COMMUNITY_WRITEBACK_ROLE = "roles.Board"

    writeback.grants_write_due()

    role = CommunityGrant.objects.get(kind="role")
    assert role.status == Status.FAILED
    assert role.last_error == "not written: COMMUNITY_WRITEBACK_ROLE no longer names this role"
    assert ROLE not in community.roles_of(44)


@pytest.mark.parametrize("status", [302, 200])
def test_an_undocumented_answer_is_an_error_not_a_success(community, settings, status):
    """A redirect would turn the change into a GET; the badge PUT documents 201 and 204, not 200."""
    settings.COMMUNITY_WRITEBACK_ROLE = ""
    community.add_user(45, job_title="CEO")
    ask({"45": "csuite"})
    community.write_failures = [status]

    writeback.grants_write_due()

    badge = CommunityGrant.objects.get()
    assert badge.status == Status.FAILED
    assert f"HTTP {status}, not the documented 201 or 204" in badge.last_error
    assert community.holders_of_badge(BADGE) == set()


def test_a_wrong_api_url_fails_the_change_rather_than_calling_the_member_gone(community, settings):
    settings.COMMUNITY_API_URL = community.url + "/nowhere"
    community.add_user(46, job_title="CEO")
    ask({"46": "csuite"})

    writeback.grants_write_due()

    assert {g.status for g in CommunityGrant.objects.all()} == {Status.FAILED}
    assert "token request: HTTP 404 (is COMMUNITY_API_URL" in CommunityGrant.objects.first().last_error
