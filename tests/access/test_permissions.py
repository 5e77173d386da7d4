"""Who may do what: every API endpoint and custom admin URL, for each role."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import AuditEntry
from digests import services as digest_services
from digests.models import DigestDelivery
from reports import services as report_services
from reports.months import Month
from tests.factories import SeniorDetectionFactory

pytestmark = pytest.mark.django_db

ROLES = ["staff", "viewer", "operator"]


@pytest.fixture
def user_of(django_user_model):
    def make(role):
        user = django_user_model.objects.create_user(role, password="pw-For-Tests-1", is_staff=True)
        if role != "staff":
            user.groups.add(Group.objects.get(name={"viewer": "Viewers", "operator": "Operators"}[role]))
        return user

    return make


@pytest.fixture
def data(settings, tmp_path, control_room):
    settings.MEDIA_ROOT = tmp_path
    detection = SeniorDetectionFactory(detected_at=timezone.now() - timedelta(days=40))
    digest_services.digest_build_weekly()
    report = report_services.report_generate_month(month=Month.of(timezone.now()).previous())
    return {"report": report, "delivery": DigestDelivery.objects.first(), "detection": detection}


def api_as(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# (method, path, body) → the status for staff without a group, a viewer, an operator.
API = [
    ("get", "/api/stats", None, (403, 200, 200)),
    ("get", "/api/members", None, (403, 200, 200)),
    ("get", "/api/detections", None, (403, 200, 200)),
    ("get", "/api/reports", None, (403, 200, 200)),
    ("get", "/api/reports/{report}/csv", None, (403, 200, 200)),
    ("get", "/api/digests", None, (403, 403, 200)),
    ("post", "/api/digests/send", {}, (403, 403, 202)),
    ("post", "/api/reports/generate", {}, (403, 403, 202)),
    ("post", "/api/classify", {"titles": ["CEO"]}, (403, 403, 200)),
    ("get", "/api/audiences", None, (403, 403, 200)),
    ("post", "/api/audiences", {"name": "EMEA", "email_to": ["emea@example.com"]}, (403, 403, 201)),
    ("get", "/api/schema/", None, (200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), API, ids=[f"{m} {p}" for m, p, _, _ in API])
def test_each_api_endpoint_checks_the_permission_it_needs(user_of, data, method, path, body, expected):
    path = path.format(report=data["report"].pk)
    for role, status in zip(ROLES, expected, strict=True):
        response = getattr(api_as(user_of(role)), method)(path, body, format="json")
        assert response.status_code == status, (role, path, response.content[:200])
        if status == 403:
            assert response.json()["error"] == "permission_denied"


# The custom admin URLs (the model pages are Django's own, by model permission).
ADMIN = [
    ("get", "admin:digests_digest_send", None, (403, 403, 200)),
    ("get", "admin:digests_delivery_preview", "delivery", (403, 403, 200)),
    ("get", "admin:reports_report_download", "report_csv", (403, 200, 200)),
    ("post", "admin:reports_report_generate", None, (403, 403, 302)),
    ("get", "admin:classification_try_titles", None, (403, 403, 200)),
    ("post", "admin:classification_reload_now", None, (403, 403, 302)),
    ("get", "admin:detections_seniormember_changelist", None, (403, 200, 200)),
    ("get", "admin:access_auditentry_changelist", None, (403, 403, 200)),
    ("get", "admin:digests_audience_changelist", None, (403, 403, 200)),
    ("get", "admin:classification_confirmedlabel_export", None, (403, 200, 200)),
    ("get", "admin:digests_audience_preview", "audience", (403, 403, 200)),
    # A digest row's link: it names the member, so only for those who may see detections.
    ("get", "admin:detections_detection_correct", "detection", (403, 302, 302)),
    ("get", "admin:detections_member_correct", "member", (403, 403, 200)),
]


@pytest.mark.parametrize(("method", "name", "arg", "expected"), ADMIN, ids=[n for _, n, _, _ in ADMIN])
def test_each_custom_admin_url_checks_the_permission_it_needs(user_of, data, method, name, arg, expected):
    args = {
        "delivery": [data["delivery"].pk],
        "report_csv": [data["report"].pk, "csv"],
        "audience": [data["delivery"].digest.audience_id],
        "detection": [data["detection"].pk],
        "member": [data["detection"].user_id],
        None: [],
    }[arg]
    for role, status in zip(ROLES, expected, strict=True):
        client = Client()
        client.force_login(user_of(role))
        response = getattr(client, method)(reverse(name, args=args))
        assert response.status_code == status, (role, name)


def test_a_viewer_cannot_send_through_the_delivery_actions(user_of, data):
    client = Client()
    client.force_login(user_of("viewer"))
    DigestDelivery.objects.update(status="dead")

    response = client.post(
        reverse("admin:digests_digestdelivery_changelist"),
        {"action": "resend", "_selected_action": [data["delivery"].pk], "confirmed": "yes"},
    )

    assert response.status_code == 403
    assert set(DigestDelivery.objects.values_list("status", flat=True)) == {"dead"}


def test_an_operator_sends_and_it_is_in_the_audit_trail(user_of, data):
    operator = user_of("operator")
    client = Client()
    client.force_login(operator)
    SeniorDetectionFactory(detected_at=timezone.now())

    client.post(reverse("admin:digests_digest_send"))
    api_as(operator).post("/api/reports/generate", {}, format="json")

    entries = list(AuditEntry.objects.order_by("id").values_list("username", "via", "action"))
    assert entries == [("operator", "admin", "digest.send_extra"), ("operator", "api", "report.generate")]


@pytest.mark.parametrize(
    "model", ["detections.detection", "detections.rawevent", "detections.seniormember", "digests.digest"]
)
def test_snapshots_cannot_be_added_changed_or_deleted_even_by_a_superuser(admin_client, data, model):
    from django.apps import apps
    from django.contrib import admin

    model_admin = admin.site._registry[apps.get_model(model)]
    request = admin_client.get("/admin/").wsgi_request

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_member_look_up_and_detections_of_one_member(staff_api):
    SeniorDetectionFactory(user_id="2010", username="Ana")
    SeniorDetectionFactory(user_id="2011")

    member = staff_api.get("/api/members/2010")
    detections = staff_api.get("/api/detections?user_id=2010").json()

    assert member.status_code == 200 and member.json()["username"] == "Ana"
    assert detections["count"] == 1 and detections["results"][0]["user_id"] == "2010"
    missing = staff_api.get("/api/members/2000")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/members/2000/extra", "/api/"])
def test_unknown_api_paths_are_json_404s(staff_api, path):
    response = staff_api.get(path)

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"


def test_the_api_docs_send_an_anonymous_browser_to_the_login_and_back(client):
    response = client.get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"


def test_view_site_leads_to_the_api_docs(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'href="/api/docs/"' in page


def test_a_user_id_with_a_nul_is_a_404_not_a_500(staff_api):
    response = staff_api.get("/api/members/%00")

    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_an_api_path_without_its_slash_is_redirected(client):
    response = client.get("/api/docs")

    assert response.status_code == 301 and response["Location"] == "/api/docs/"


def test_schedules_are_run_and_paused_only_with_the_change_permission_and_recorded(user_of, django_user_model):
    from django.contrib.auth.models import Permission
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="digests.tasks.digest_build_weekly")
    url = reverse("admin:django_celery_beat_periodictask_changelist")
    viewer = user_of("staff")
    viewer.user_permissions.add(Permission.objects.get(codename="view_periodictask"))
    client = Client()
    client.force_login(viewer)

    client.post(url, {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled  # viewing the schedules is not pausing them

    client.force_login(user_of("operator"))
    client.post(url, {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert not task.enabled
    entry = AuditEntry.objects.get(action="schedule.disable_tasks")
    assert entry.username == "operator" and task.name in entry.target
