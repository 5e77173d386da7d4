"""The admin index's health panel as an operator sees it, in headless Chromium. Set
SCREENSHOT_DIR to keep the screenshot."""

import pytest
from selenium.webdriver.common.by import By

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_health_panel_fits_its_box_and_says_when_the_digest_goes(screen, browser):
    screen("/admin/", "admin-health")

    panel = browser.find_element(By.ID, "console-health")
    assert "with Friday's digest" in panel.text and "Latest report\\tnone yet" in panel.text.replace(" none", "\\tnone")
    widths = browser.execute_script(
        "const box = arguments[0]; return [box.clientWidth, Math.max(...Array.from(box.querySelectorAll('table'),"
        " t => t.scrollWidth))];",
        panel,
    )
    assert widths[1] <= widths[0]  # no table overflows the panel
    headers = [th.size["height"] for th in panel.find_elements(By.CSS_SELECTOR, "thead th")]
    assert max(headers) < 40  # one line each, not a letter per line


PAGES = {
    "rulesets": "/admin/classification/storedruleset/",
    "members": "/admin/detections/seniormember/",
    "raw-events": "/admin/detections/rawevent/",
    "digests": "/admin/digests/digest/",
    "reports": "/admin/reports/report/",
    "schedules": "/admin/django_celery_beat/periodictask/",
}


@pytest.mark.parametrize("name", PAGES)
def test_every_operator_page_renders_in_a_browser(screen, browser, name):
    screen(PAGES[name], f"admin-{name}")  # no server error on it

    assert browser.find_elements(By.ID, "changelist"), f"{name}: no change list on the page"


def test_a_right_to_left_override_in_a_name_reorders_nothing_in_the_browser(screen, browser):
    """Issue 36: an audience and a member named with U+202E. The browser shows the letters in the
    order typed, and what follows the name is not reversed."""
    from tests.factories import AudienceFactory, SeniorDetectionFactory

    AudienceFactory(name="EMEA \u202egnp.exe board")
    SeniorDetectionFactory(username="Jane \u202eeoR", title="VP of Sales")

    screen("/admin/digests/audience/", "admin-audiences-bidi")
    audiences = browser.find_element(By.ID, "result_list").text
    screen("/admin/detections/seniormember/", "admin-members-bidi")
    members = browser.find_element(By.ID, "result_list").text

    assert "EMEA gnp.exe board" in audiences and "\u202e" not in audiences
    assert "Jane eoR" in members and "VP of Sales" in members and "\u202e" not in members
