"""The digest bench's seed writes rows the current schema takes, and a build can read them: a
column added without a database default (the function, 2027.1.0) broke `make bench-digest` once."""

import pytest

from benchmarks.digest_build import seed
from detections.models import Detection, SeniorMember
from digests.services import digest_build_weekly
from tests.factories import AudienceFactory


@pytest.mark.django_db
def test_the_seed_makes_pending_detections_of_senior_members_that_a_build_takes():
    seed(count=30)
    audience = AudienceFactory()

    assert Detection.objects.count() == SeniorMember.objects.count() == 30
    assert set(Detection.objects.values_list("function", flat=True)) == {"finance", "sales"}
    build = digest_build_weekly()
    [built] = [item for item in build.audiences if item.audience == audience]
    assert len(built.detection_ids) == 30
