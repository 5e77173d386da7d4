"""The detections screens as a new operator meets them, in headless Chromium (issue 39): at 1280
and 1920 px nothing of a list is off-screen, long text is clamped, and a member and their
detections link to each other. Set SCREENSHOT_DIR to keep the screenshots."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.factories import (
    AudienceFactory,
    DetectionFactory,
    RawEventFactory,
    SeniorDetectionFactory,
    everyone_audience,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

LONG_TITLE = (
    "Senior Vice President, Global Partner Ecosystems, Strategic Alliances and Channel Sales for Europe, "
    "the Middle East, Africa and Latin America (interim, reporting to the Chief Revenue Officer)"
)
AUDIENCES = ["Everyone", "Sales", "EMEA", "Board", "Finance leaders", "Partner team", "APAC", "Customer success"]
AUDIENCES += [f"Region {n}" for n in range(1, 18)]  # 25 in all: the member who grew a 25-line cell


@pytest.fixture
def realistic_data(settings):
    """Thirty members with long titles; one (Priya Raman) with a promotion, both carried by 25
    audiences' digests, one sent; someone no longer senior, left out by all 25; raw events with
    long values and errors."""
    from digests.models import DigestDelivery
    from digests.services.builds import digest_build_extra

    week_ago = timezone.now() - timedelta(days=6)
    for n in range(30):
        SeniorDetectionFactory(
            username=f"Member Number{n} With A Longer Name",
            title=f"{LONG_TITLE} #{n}",
            company="Consolidated International Holdings and Subsidiaries plc",
            country="United Kingdom of Great Britain and Northern Ireland",
            detected_at=week_ago,
        )
    SeniorDetectionFactory(user_id="4242", username="Priya Raman", title="VP of Partnerships", detected_at=week_ago)
    SeniorDetectionFactory(
        user_id="4242", username="Priya Raman", title=LONG_TITLE, level="csuite", kind="promotion", detected_at=week_ago
    )
    DetectionFactory(user_id="5151", username="Lee Gone", title=LONG_TITLE, detected_at=week_ago)  # no member now
    for n in range(12):
        RawEventFactory(
            user_id=str(4242 if n % 2 else 5151),
            username="Priya Raman",
            value=f"{LONG_TITLE} {n}",
            outcome="failed" if n % 3 == 0 else "updated",
            error="Community profile could not be fetched: 503 Service Unavailable " * 4 if n % 3 == 0 else "",
            processed_at=timezone.now(),
        )
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    audiences = [everyone_audience(), *(AudienceFactory(name=name) for name in AUDIENCES[1:])]
    digest_build_extra(audience_ids=[a.pk for a in audiences])
    everyone = DigestDelivery.objects.filter(digest__audience__name="Everyone")
    everyone.update(status="sent", sent_at=timezone.now())


def overflow(browser, later: list[str]) -> dict:
    """What of the result list lies past the viewport's right edge, or is scrolled out of its box
    (nothing, when it fits), but for the columns `later` (allowed past the list's scroll)."""
    return browser.execute_script(
        """
        const table = document.querySelector('#result_list'), box = table.closest('.results') || table;
        const edge = Math.min(window.innerWidth, box.getBoundingClientRect().right);
        const later = arguments[0].map(name => `.column-${name}, .field-${name}`).join(', ');
        const past = Array.from(table.querySelectorAll('a, th, td'))
            .filter(e => !(later && e.closest(later)))
            .filter(e => e.getBoundingClientRect().right > edge + 0.5)
            .map(e => (e.className || e.tagName) + ': ' + e.textContent.trim().slice(0, 40));
        return {
            table: table.getBoundingClientRect().right - edge,
            scrolled: box.scrollWidth - box.clientWidth,
            page: document.documentElement.scrollWidth - window.innerWidth,
            past: past.slice(0, 10),
        };
        """,
        later,
    )


LISTS = {
    "members": "/admin/detections/seniormember/",
    "detections": "/admin/detections/detection/",
    "raw-events": "/admin/detections/rawevent/",
}


# At 1280 px the filters take their column beside the list: the least-needed columns
# (company and country, first detection, user id) may be past its scroll there, never before 1920.
MAY_SCROLL_AT_1280 = {"members": ["where", "first_detected_at", "user_id"], "detections": ["where"], "raw-events": []}


@pytest.mark.parametrize(
    ("name", "width"),
    [
        *((name, 1280) for name in LISTS),
        *((name, 1920) for name in LISTS),
    ],
)
def test_nothing_of_a_list_is_off_screen(realistic_data, screen, browser, width, name):
    screen(LISTS[name], f"detections-{name}", width=width)

    later = MAY_SCROLL_AT_1280[name] if width < 1920 else []
    found = overflow(browser, later)
    assert not found["past"] and found["page"] <= 0, found
    assert later or (found["table"] <= 0.5 and found["scrolled"] <= 0), found
    edge = browser.execute_script("return window.innerWidth")
    for link in browser.find_elements(By.CSS_SELECTOR, "#result_list td.field-correct_link a, td.field-correct a"):
        assert browser.execute_script("return arguments[0].getBoundingClientRect().right", link) <= edge


def test_a_member_and_their_detections_link_both_ways(realistic_data, screen, browser):
    browser.set_window_size(1280, 900)
    screen("/admin/detections/seniormember/?q=Priya", "detections-members-search")

    browser.find_element(By.LINK_TEXT, "Priya Raman").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "member-detections")))
    screen.save("detections-member-page")
    tools = browser.find_element(By.CSS_SELECTOR, ".object-tools")
    assert tools.find_elements(By.CSS_SELECTOR, "a[href='/admin/detections/seniormember/4242/correct/']")
    went = browser.find_element(By.ID, "member-detections").text
    assert "Everyone: digest of" in went and "email sent" in went and "Sales: digest of" in went
    tools.find_element(By.CSS_SELECTOR, "a[href$='?user_id=4242']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "result_list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 2
    browser.find_element(By.CSS_SELECTOR, "#result_list td.field-member a").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "member-detections")))
    assert "/admin/detections/seniormember/4242/change/" in browser.current_url

    browser.find_element(By.CSS_SELECTOR, ".object-tools a[href$='/correct/']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".submit-row")))
    screen.save("detections-member-correct")
    assert browser.find_elements(By.CSS_SELECTOR, "fieldset.module.aligned .form-row.field-level")
    assert browser.find_element(By.ID, "member-detections").find_elements(By.PARTIAL_LINK_TEXT, "digest of")


def test_the_sent_to_cell_is_a_line_per_outcome_clamped(realistic_data, screen, browser):
    browser.set_window_size(1280, 900)
    screen("/admin/detections/detection/?user_id=5151", "detections-left-out")

    cell = browser.find_element(By.CSS_SELECTOR, "#result_list td.field-sent_to .cp-clamp")
    full = cell.get_attribute("title")
    assert full.count("\n") == 0 and full.startswith("APAC, Board, Customer success, EMEA, Everyone")
    assert full.endswith(": left out — no longer senior when it was built")
    assert cell.size["height"] < 45  # two lines at most
