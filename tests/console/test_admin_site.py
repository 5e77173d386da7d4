"""The console as a new operator finds it (issue 39): their sections first, one way of writing a
moment with its zone, a health panel whose figures open the rows they count, a "View site" that exists."""

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import DetectionFactory

pytestmark = pytest.mark.django_db

# Sunday Dec 6, 2026, 14:22 in New York (EST); Jul 6, 2026 is in daylight saving time (EDT).
WINTER = datetime(2026, 12, 6, 19, 22, tzinfo=UTC)
SUMMER = datetime(2026, 7, 6, 18, 22, tzinfo=UTC)


def panel_links(page: str) -> dict[str, str]:
    """The health panel's links: text → href."""
    panel = page[page.index('id="console-health"') : page.index("Scheduled runs")]
    links = re.findall(r'<a href="([^"]+)">(.*?)</a>', panel, flags=re.S)
    return {re.sub(r"<[^>]+>", "", unescape(text)).strip(): unescape(href) for href, text in links}


def test_the_operators_sections_come_first_and_the_rest_under_administration(admin_client):
    page = admin_client.get(reverse("admin:index"))

    sections = [app["name"] for app in page.context["app_list"]]
    assert sections == ["Detections", "Digests", "Reports", "CRM hand-off", "Classification", "Administration"]
    administration = page.context["app_list"][-1]
    models = [model["name"] for model in administration["models"]]
    assert {"Users", "Groups", "Tokens", "Periodic tasks", "Access attempts"} <= set(models), models
    assert administration["models"][0]["admin_url"]


def test_the_administration_section_has_its_own_page_and_an_app_page_stays_djangos(admin_client):
    section = admin_client.get(reverse("admin:administration"))
    detections = admin_client.get(reverse("admin:app_list", args=["detections"]))

    assert section.status_code == 200 and "Periodic tasks" in section.content.decode()
    assert [app["app_label"] for app in detections.context["app_list"]] == ["detections"]
    assert 'id="console-health"' not in detections.content.decode()  # the panel is the index's


def test_the_administration_page_needs_a_staff_login(client):
    response = client.get(reverse("admin:administration"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    ("moment", "shown"), [(WINTER, "Dec 6, 2026 14:22 EST"), (SUMMER, "Jul 6, 2026 14:22 EDT")], ids=["EST", "EDT"]
)
def test_a_list_writes_a_moment_in_new_york_time_with_its_zone(admin_client, time_machine, moment, shown):
    time_machine.move_to(moment, tick=False)
    DetectionFactory(detected_at=timezone.now())

    page = admin_client.get(reverse("admin:detections_detection_changelist")).content.decode()

    assert shown in page
    assert "p.m." not in page and "a.m." not in page


def test_a_date_field_names_its_zone_and_the_offset_warning_is_hidden(admin_client):
    from django.contrib.staticfiles import finders

    page = admin_client.get(reverse("admin:django_celery_beat_clockedschedule_add")).content.decode()
    stylesheet = Path(finders.find("console/admin.css")).read_text()

    assert '<span class="cp-zone">America/New_York</span>' in page
    assert "console/admin.css" in page
    assert ".timezonewarning { display: none; }" in stylesheet and ".cp-clamp" in stylesheet


def test_the_health_panel_hides_celerys_own_cleanup(admin_client):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    crontab = CrontabSchedule.objects.create(minute="0", hour="4", timezone="America/New_York")
    PeriodicTask.objects.create(name="celery.backend_cleanup", task="celery.backend_cleanup", crontab=crontab)

    page = admin_client.get(reverse("admin:index")).content.decode()

    assert 'id="console-health"' in page and "celery.backend_cleanup" not in page


def test_every_figure_on_the_health_panel_opens_the_rows_it_counts(admin_client, health_data):
    page = admin_client.get(reverse("admin:index")).content.decode()
    links = panel_links(page)
    expected = {
        "3 members": 3,
        "1 C-suite": 1,
        "2 VP": 2,
        "2 detections in the last 7 days": 2,
        "3 in the last 30 days": 3,
        "1 detection": 1,  # waiting for a digest
        "1 event": 1,  # unprocessed
        "1 event of 1 member": 1,  # set aside
        "1 failing": 1,
        "1 dead": 1,
    }

    missing = set(expected) - set(links)
    assert not missing, f"not on the panel as links: {missing} (links: {sorted(links)})"
    for text, href in links.items():
        response = admin_client.get(href, follow=True)
        assert response.status_code == 200, text
        final = response.redirect_chain[-1][0] if response.redirect_chain else href
        assert "e=1" not in final, f"{text}: {href} is not a filter the list offers"
        if text in expected:
            assert response.context["cl"].result_count == expected[text], f"{text}: {href}"


def test_the_health_panel_writes_its_moments_and_months_like_the_lists(admin_client, health_data):
    page = admin_client.get(reverse("admin:index")).content.decode()
    panel = page[page.index('id="console-health"') :]

    assert re.search(r"going out [A-Z][a-z]{2} \d{1,2}, \d{4} 17:00 E[SD]T with Friday's digest", panel)
    assert re.search(r">[A-Z][a-z]+ \d{4}</a>: ready", panel)  # the latest report's month, e.g. November 2026


def test_view_site_opens_a_page_that_exists(admin_client):
    index = admin_client.get(reverse("admin:index"))
    site_url = index.context["site_url"]

    assert f'href="{site_url}"' in index.content.decode()
    assert admin_client.get(site_url).status_code == 200
