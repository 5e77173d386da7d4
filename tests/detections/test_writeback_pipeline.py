"""The community write-back end to end: webhook, a real Celery worker, the fake inSided API."""

import pytest

from detections.models import CommunityGrant
from tests.conftest import profile_update, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ROLE, BADGE = "roles.Executives", 7


def test_a_webhook_gives_the_role_and_badge_and_a_later_one_takes_them_away(webhook, insided, start_worker):
    insided.add_role(ROLE)
    insided.add_badge(BADGE)
    insided.add_user(2000, job_title="Chief Technology Officer")
    start_worker(
        extra_env={
            "COMMUNITY_API_URL": insided.url,
            "COMMUNITY_CLIENT_ID": insided.client_id,
            "COMMUNITY_CLIENT_SECRET": insided.client_secret,
            "COMMUNITY_WRITEBACK_ROLE": ROLE,
            "COMMUNITY_WRITEBACK_BADGE_ID": str(BADGE),
        }
    )

    assert webhook.post(profile_update(value="Chief Technology Officer")).status_code == 202
    wait_until(lambda: ROLE in insided.roles_of(2000), message="the worker to give the role")
    wait_until(lambda: insided.holders_of_badge(BADGE) == {"2000"}, message="the worker to award the badge")

    assert webhook.post(profile_update(value="Engineer", old_value="Chief Technology Officer")).status_code == 202
    wait_until(lambda: ROLE not in insided.roles_of(2000), message="the worker to take the role away")
    wait_until(lambda: not insided.holders_of_badge(BADGE), message="the worker to revoke the badge")
    wait_until(
        lambda: (
            set(CommunityGrant.objects.values_list("wanted", "status", "result"))
            == {(False, "done", "role taken away"), (False, "done", "badge taken away")}
        ),
        message="both changes recorded",
    )
    assert {(m, s) for m, _, s in insided.writes} == {("POST", 200), ("PUT", 201), ("DELETE", 204)}


def test_the_webhook_does_not_wait_for_a_community_that_does_not_answer(webhook, insided, start_worker):
    insided.add_role(ROLE)
    insided.add_user(2001, job_title="CFO")
    insided.write_failures = [503] * 30
    start_worker(
        extra_env={
            "COMMUNITY_API_URL": insided.url,
            "COMMUNITY_CLIENT_ID": insided.client_id,
            "COMMUNITY_CLIENT_SECRET": insided.client_secret,
            "COMMUNITY_WRITEBACK_ROLE": ROLE,
        }
    )

    assert webhook.post(profile_update(user_id="2001", value="CFO")).status_code == 202
    wait_until(
        lambda: CommunityGrant.objects.filter(attempts=1, status="pending").exists(),
        message="the change to wait for its retry",
    )
    grant = CommunityGrant.objects.get()
    assert "HTTP 503" in grant.last_error and grant.next_attempt_at > grant.updated_at
    assert ROLE not in insided.roles_of(2001)
