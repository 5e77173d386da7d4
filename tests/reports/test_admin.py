"""The reports pages of the admin: list, downloads, generate and regenerate."""

import pytest
from django.urls import reverse

from reports import services
from reports.models import Report
from reports.months import Month
from tests.reports.conftest import AFTER_OCTOBER


@pytest.fixture
def report(october):
    return services.report_generate_month(month=Month(2026, 10), now=AFTER_OCTOBER)


def test_the_list_and_the_page_render_with_download_links(admin_client, report):
    listing = admin_client.get(reverse("admin:reports_report_changelist")).content.decode()
    page = admin_client.get(reverse("admin:reports_report_change", args=[report.pk]))

    assert reverse("admin:reports_report_download", args=[report.pk, "csv"]) in listing
    assert reverse("admin:reports_report_generate") in listing
    assert page.status_code == 200 and "by_country" in page.content.decode()


def test_downloads_stream_the_files(admin_client, report):
    csv_response = admin_client.get(reverse("admin:reports_report_download", args=[report.pk, "csv"]))
    html_response = admin_client.get(reverse("admin:reports_report_download", args=[report.pk, "html"]))

    assert csv_response["Content-Disposition"].startswith("attachment")
    lines = b"".join(csv_response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("# CaptPathfinder month-end report,") and lines[3].startswith("member_id,name,")
    assert "sandbox" in html_response["Content-Security-Policy"]
    assert b"<svg" in b"".join(html_response.streaming_content)


def test_unknown_downloads_are_404(admin_client, report):
    assert admin_client.get(reverse("admin:reports_report_download", args=[report.pk, "pdf"])).status_code == 404
    assert admin_client.get(reverse("admin:reports_report_download", args=[999999, "csv"])).status_code == 404


def test_downloads_need_a_staff_login(client, report):
    response = client.get(reverse("admin:reports_report_download", args=[report.pk, "csv"]))

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_generate_and_regenerate_queue_the_same_service(admin_client, report, monkeypatch):
    queued = []
    monkeypatch.setattr("reports.tasks.report_generate_month.delay", queued.append)

    admin_client.post(reverse("admin:reports_report_generate"), {"month": "2026-09"})
    admin_client.post(reverse("admin:reports_report_generate"), {"month": "nonsense"})
    admin_client.post(
        reverse("admin:reports_report_changelist"), {"action": "regenerate", "_selected_action": [report.pk]}
    )

    assert queued == ["2026-09", "2026-10"]
    assert set(Report.objects.values_list("month", flat=True).order_by()) == {report.month, Month(2026, 9).first_day}


def test_the_report_page_shows_the_count_by_function(admin_client, october):
    from tests.factories import DetectionFactory
    from tests.reports.conftest import ny

    DetectionFactory(user_id="8", level="csuite", title="CFO", function="finance", detected_at=ny(2026, 10, 8))
    report = services.report_generate_month(month=Month(2026, 10), now=AFTER_OCTOBER)

    page = admin_client.get(reverse("admin:reports_report_change", args=[report.pk])).content.decode()

    assert "Detections by function" in page
    assert "<tr><td>Other</td><td>4</td><td>2</td><td>2</td></tr>" in page
    assert "<tr><td>Finance</td><td>1</td><td>1</td><td>0</td></tr>" in page
