"""The index and its health panel, with data, as an operator's browser lays them out (issue 39).
Set SCREENSHOT_DIR to keep the screenshots."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

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


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_health_panel_with_data_fits_under_its_header_bar(screen, browser, health_data, width):
    screen("/admin/", "admin-index", width=width)  # the window's size is put back after the test

    panel = browser.find_element(By.ID, "console-health")
    edges = browser.execute_script(EDGES, panel)
    assert edges["table"] <= edges["bar"] <= edges["viewport"], edges
    row_headers = {th.text: th.size["height"] for th in panel.find_elements(By.CSS_SELECTOR, "th[scope=row]")}
    assert max(row_headers.values()) < 40, row_headers  # each on one line
    report = panel.find_element(By.XPATH, ".//th[.='Latest report']/following-sibling::td/a")
    assert report.size["height"] < 30, report.text  # the month on one line, not "2026-12" above ": ready"
    # The sections an operator works in come first, the rest under one heading at the end.
    sections = [caption.text for caption in browser.find_elements(By.CSS_SELECTOR, "#content-main .module caption")]
    operators = ["DETECTIONS", "DIGESTS", "REPORTS", "CRM HAND-OFF", "CLASSIFICATION"]
    assert sections == [*operators, "ADMINISTRATION"], sections


def test_clicking_a_figure_opens_the_list_it_counts(health_data, screen, browser):
    # The index screen's login opened, after health_data (requested first), so with the data.
    browser.find_element(By.LINK_TEXT, "1 dead").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "changelist")))

    screen.save("admin-health-dead-deliveries")
    assert browser.current_url.endswith("/admin/digests/digestdelivery/?status__exact=dead")
    assert "e=1" not in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "Dead (retries exhausted)" in rows[0].text
