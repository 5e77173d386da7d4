"""manage.py reclassify: stored members under the active rules."""

import io

import pytest
from django.core.management import call_command

from classification import services
from detections.models import Detection, SeniorMember
from tests.factories import SeniorMemberFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def members():
    old = {"rules_version": "old"}
    SeniorMemberFactory(user_id="1", title="VP of Sales", level="vp", function="sales", **old)
    SeniorMemberFactory(user_id="2", title="Chief Executive Officer", level="vp", function="general", **old)  # too low
    SeniorMemberFactory(user_id="3", title="Assistant to the CEO", level="csuite", **old)  # not senior
    SeniorMemberFactory(user_id="4", title="CFO", level="csuite", function="other", **old)  # stored before functions


def test_reclassify_dry_run_lists_changes_and_writes_nothing(members):
    output = run("reclassify", "--dry-run")

    assert "2\tvp/general -> csuite/general\tChief Executive Officer" in output
    assert "3\tcsuite/other -> removed\tAssistant to the CEO" in output
    assert "4\tcsuite/other -> csuite/finance\tCFO" in output
    assert "4 members read; would change 3 (1 removed, 1 with a new function)" in output
    assert SeniorMember.objects.count() == 4
    assert not Detection.objects.exists()


def test_reclassify_applies_through_the_member_services(members):
    output = run("reclassify")

    assert "changed 3 (1 removed, 1 with a new function)" in output
    assert set(SeniorMember.objects.values_list("user_id", "level", "function")) == {
        ("1", "vp", "sales"),
        ("2", "csuite", "general"),
        ("4", "csuite", "finance"),
    }
    promotion = Detection.objects.get()
    assert (promotion.user_id, promotion.kind, promotion.level) == ("2", "promotion", "csuite")
    version = services.ruleset_active().version
    assert set(SeniorMember.objects.values_list("rules_version", flat=True)) == {version}
