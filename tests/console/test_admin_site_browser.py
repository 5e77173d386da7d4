"""The index and its health panel, with data, as an operator's browser lays them out (issue 39).
Set SCREENSHOT_DIR to keep the screenshots."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.browser import admin_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# The right edges, in CSS pixels, of the panel's widest table, its header bar and the viewport.
EDGES = """
const panel = arguments[0];
const tables = Array.from(panel.querySelectorAll('table'), t => t.getBoundingClientRect().right);
return {
  table: Math.max(...tables),
  bar: panel.querySelector('h2').getBoundingClientRect().right,
  viewport: document.documentElement.clientWidth,
};
"""


@pytest.fixture
def window(browser):
    """The shared browser's size put back after the test (the others expect 1280 x 1600)."""
    yield browser
    browser.set_window_size(1280, 1600)


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_health_panel_with_data_fits_under_its_header_bar(window, live_server, admin_user, health_data, width):
    folder = Path(os.environ.get("SCREENSHOT_DIR", "")) if os.environ.get("SCREENSHOT_DIR") else None
    window.set_window_size(width, 900)
    admin_login(window, live_server, admin_user, next_path="/admin/")

    panel = window.find_element(By.ID, "console-health")
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        window.save_screenshot(str(folder / f"admin-index-{width}.png"))
    edges = window.execute_script(EDGES, panel)
    assert edges["table"] <= edges["bar"] <= edges["viewport"], edges
    row_headers = {th.text: th.size["height"] for th in panel.find_elements(By.CSS_SELECTOR, "th[scope=row]")}
    assert max(row_headers.values()) < 40, row_headers  # each on one line
    report = panel.find_element(By.XPATH, ".//th[.='Latest report']/following-sibling::td/a")
    assert report.size["height"] < 30, report.text  # the month on one line, not "2026-12" above ": ready"
    # The sections an operator works in come first, the rest under one heading at the end.
    sections = [caption.text for caption in window.find_elements(By.CSS_SELECTOR, "#content-main .module caption")]
    assert sections == ["DETECTIONS", "DIGESTS", "REPORTS", "CLASSIFICATION", "ADMINISTRATION"], sections


def test_clicking_a_figure_opens_the_list_it_counts(window, live_server, admin_user, health_data, tmp_path):
    admin_login(window, live_server, admin_user, next_path="/admin/")

    window.find_element(By.LINK_TEXT, "1 dead").click()
    WebDriverWait(window, 15).until(expected_conditions.presence_of_element_located((By.ID, "changelist")))

    folder = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    window.save_screenshot(str(folder / "admin-health-dead-deliveries.png"))
    assert window.current_url.endswith("/admin/digests/digestdelivery/?status__exact=dead")
    assert "e=1" not in window.current_url
    rows = window.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "Dead (retries exhausted)" in rows[0].text
