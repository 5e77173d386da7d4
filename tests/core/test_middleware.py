"""Pages as an operator reads them: no bidirectional override from a member or an audience
reorders what follows it."""

import pytest
from django.urls import reverse

from tests.factories import AudienceFactory, SeniorDetectionFactory

pytestmark = pytest.mark.django_db
RLO, PDF = "\u202e", "\u202c"  # right-to-left override, pop directional formatting


def test_admin_pages_carry_no_bidi_override_from_member_or_audience_names(admin_client):
    audience = AudienceFactory(name=f"EMEA {RLO}gnp.exe{PDF} board")
    detection = SeniorDetectionFactory(username=f"Jane {RLO}eoR{PDF}", company=f"{RLO}emcA")
    pages = [
        reverse("admin:digests_audience_changelist"),
        reverse("admin:digests_audience_change", args=[audience.pk]),
        reverse("admin:digests_audience_delete", args=[audience.pk]),
        reverse("admin:detections_seniormember_changelist"),
        reverse("admin:detections_seniormember_change", args=[detection.user_id]),
        reverse("admin:detections_detection_changelist"),
        reverse("admin:detections_detection_change", args=[detection.pk]),
        reverse("admin:detections_member_correct", args=[detection.user_id]),
    ]

    for page in pages:
        response = admin_client.get(page)
        html = response.content.decode()

        assert response.status_code == 200, page
        assert RLO not in html and PDF not in html, page
        assert int(response["Content-Length"]) == len(response.content), page
    assert "EMEA gnp.exe board" in admin_client.get(pages[0]).content.decode()
    assert "Jane eoR" in admin_client.get(pages[3]).content.decode()


def test_json_keeps_the_data_as_it_is(staff_api):
    SeniorDetectionFactory(username=f"Jane {RLO}eoR")

    members = staff_api.get("/api/members").json()

    assert members["results"][0]["username"] == f"Jane {RLO}eoR"
