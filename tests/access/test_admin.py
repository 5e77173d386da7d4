"""The audit trail's pages: the ids an entry names are links to the objects, the raw details below."""

import pytest
from django.urls import reverse

from access.admin import audit_detail_links, audit_target_url
from access.services import audit_record

pytestmark = pytest.mark.django_db


def test_an_entrys_ids_link_to_their_objects_and_the_raw_details_stay(admin_client, admin_user):
    entry = audit_record(admin_user, "delivery.resend", via="admin", target="2 deliveries", deliveries=[11, 12])

    page = admin_client.get(reverse("admin:access_auditentry_change", args=[entry.pk])).content.decode()
    listed = admin_client.get(reverse("admin:access_auditentry_changelist")).content.decode()

    for pk in (11, 12):
        assert f'<a href="{reverse("admin:digests_digestdelivery_change", args=[pk])}">{pk}</a>' in page
    every = reverse("admin:digests_digestdelivery_changelist") + "?id__in=11%2C12"
    assert f'<a href="{every}">all 2 in one list</a>' in page
    assert "&quot;deliveries&quot;: [" in page or '"deliveries": [' in page  # the JSON as recorded
    assert reverse("admin:digests_digestdelivery_change", args=[11]) in listed
    assert "By how it was done" in listed and "By who" in listed


@pytest.mark.parametrize(
    "details, expected",
    [
        ({"audience": 4}, [("audience", [("4", "/admin/digests/audience/4/change/")])]),
        ({"detections": [7]}, [("detections", [("7", "/admin/detections/detection/7/change/")])]),
        ({"grant_ids": [3]}, [("grant_ids", [("3", "/admin/detections/communitygrant/3/change/")])]),
        ({"user_ids": ["u 1"]}, [("user_ids", [("u 1", "/admin/detections/rawevent/?user_id=u+1")])]),
        ({"accepted_broken_labels": [2]},
         [("accepted_broken_labels", [("2", "/admin/classification/confirmedlabel/2/change/")])]),
        ({"level": "csuite", "changed": 3}, []),
    ],
)  # fmt: skip
def test_which_details_are_links(details, expected):
    assert audit_detail_links(details) == expected


@pytest.mark.parametrize(
    "target, expected",
    [
        ("member 2010 (Chief Executive Officer)", "/admin/detections/seniormember/2010/change/"),
        ("report 2026-11", "/admin/reports/report/?month__year=2026&month__month=11"),
        ("ruleset 2027.1.0", "/admin/classification/storedruleset/?version=2027.1.0"),
        ("3 deliveries", None),
    ],
)
def test_which_targets_are_links(target, expected):
    assert audit_target_url(target) == expected
