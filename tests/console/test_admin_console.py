"""Every admin page an operator uses renders for a staff user, and the console's actions work."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from core.schedules import SCHEDULES
from digests import services as digest_services
from reports import services as report_services
from reports.months import Month
from tests.factories import DetectionFactory, RawEventFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def console_data(control_room, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    SeniorMemberFactory(user_id="1", title="VP of Sales", level="vp")
    DetectionFactory(user_id="1", detected_at=timezone.now() - timedelta(days=1))
    RawEventFactory()
    digest_services.digest_build_weekly()
    report_services.report_generate_month(month=Month.of(timezone.now()).previous())


def registered_models():
    return [model for model in admin.site._registry]


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_changelist_and_change_form_renders(admin_client, console_data, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200

    obj = model._default_manager.first()
    if obj is not None:
        change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        assert change.status_code == 200


def test_the_index_shows_the_health_panel(admin_client, console_data):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert 'id="console-health"' in page
    assert "Senior members" in page and "digest: build the weekly digest" in page


def test_the_health_panel_says_when_waiting_detections_go_out_and_shows_the_latest_report(admin_client, console_data):
    from django_celery_beat.models import PeriodicTask

    from console.templatetags.console import console_health

    panel = console_health({"request": admin_client.get("/admin/").wsgi_request})

    friday = panel["next_digest_at"].astimezone(ZoneInfo("America/New_York"))
    assert (friday.strftime("%a"), friday.hour, friday.minute) == ("Fri", 17, 0)
    crontabs = {schedule.name for schedule in SCHEDULES if schedule.crontab}
    assert all(row["next_run_at"].second == 0 for row in panel["schedules"] if row["name"] in crontabs)
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Waiting for a digest" in page and "with Friday's digest" in page and "Latest report" in page

    PeriodicTask.objects.filter(task="digests.tasks.digest_build_weekly").update(enabled=False)
    assert "the weekly digest is paused" in admin_client.get(reverse("admin:index")).content.decode()


def test_raw_events_are_read_only(admin_client, console_data):
    from detections.models import RawEvent

    event = RawEvent.objects.first()
    url = reverse("admin:detections_rawevent_change", args=[event.pk])

    admin_client.post(url, {"user_id": "changed"})

    event.refresh_from_db()
    assert event.user_id != "changed"


def test_reclassify_shows_a_dry_run_then_applies(admin_client, console_data):
    from detections.models import SeniorMember

    SeniorMember.objects.filter(pk="1").update(level="csuite")  # the rules say vp for "VP of Sales"
    url = reverse("admin:detections_seniormember_changelist")

    dry = admin_client.post(url, {"action": "reclassify", "_selected_action": ["1"]})
    assert dry.status_code == 200 and "would change" in dry.content.decode()
    assert SeniorMember.objects.get(pk="1").level == "csuite"

    admin_client.post(url, {"action": "reclassify", "_selected_action": ["1"], "apply": "yes"})
    assert SeniorMember.objects.get(pk="1").level == "vp"


def test_the_admin_needs_a_login(client):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_health_panel_needs_the_permissions_the_stats_need(client, django_user_model, console_data):
    from django.contrib.auth.models import Group

    staff = django_user_model.objects.create_user("bare", password="x", is_staff=True)
    client.force_login(staff)
    assert 'id="console-health"' not in client.get(reverse("admin:index")).content.decode()

    staff.groups.add(Group.objects.get(name="Viewers"))
    assert 'id="console-health"' in client.get(reverse("admin:index")).content.decode()
