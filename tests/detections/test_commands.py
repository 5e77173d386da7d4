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
    SeniorMemberFactory(user_id="1", title="VP of Sales", level="vp", rules_version="old")
    SeniorMemberFactory(user_id="2", title="Chief Executive Officer", level="vp", rules_version="old")  # under-rated
    SeniorMemberFactory(user_id="3", title="Assistant to the CEO", level="csuite", rules_version="old")  # not senior
    SeniorMemberFactory(user_id="4", title="CFO", level="csuite", rules_version="old")


def test_reclassify_dry_run_lists_changes_and_writes_nothing(members):
    output = run("reclassify", "--dry-run")

    assert "2\tvp -> csuite\tChief Executive Officer" in output
    assert "3\tcsuite -> removed\tAssistant to the CEO" in output
    assert "4 members read; would change 2 (1 removed)" in output
    assert SeniorMember.objects.count() == 4
    assert not Detection.objects.exists()


def test_reclassify_applies_through_the_member_services(members):
    output = run("reclassify")

    assert "changed 2 (1 removed)" in output
    assert set(SeniorMember.objects.values_list("user_id", "level")) == {("1", "vp"), ("2", "csuite"), ("4", "csuite")}
    promotion = Detection.objects.get()
    assert (promotion.user_id, promotion.kind, promotion.level) == ("2", "promotion", "csuite")
    version = services.ruleset_active().version
    assert set(SeniorMember.objects.values_list("rules_version", flat=True)) == {version}
