"""The digests, audit and report screens as a new operator finds them (issue 39), in headless
Chromium at a laptop's width (1280 px) and a desktop's (1920 px): the lists fit, the Teams preview
is the card itself, the audit trail's ids open their objects. Set SCREENSHOT_DIR to keep the
screenshots."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from digests import services
from digests.models import Audience, Digest, DigestDelivery
from reports import services as report_services
from reports.months import Month
from tests.factories import AudienceFactory, DetectionFactory, SeniorDetectionFactory
from tests.fixtures.browser import select2_choose

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WIDTHS = [1280, 1920]
LONG_TITLE = "Executive Vice President, Global Strategy, Corporate Development and Transformation Office"


@pytest.fixture
def sent(settings):
    """A week's digests built and sent to an audience with a long name, and the month's report."""
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    settings.DIGEST_TEAMS_WEBHOOK_URL = "https://prod-1.westus.logic.azure.com/workflows/1/invoke?sig=SECRET"
    AudienceFactory(name="EMEA and APAC leadership, sales and marketing executives (weekly)")
    for number in range(4):
        SeniorDetectionFactory(
            username=f"Member {number}",
            title=LONG_TITLE,
            company="Initech Global Holdings International",
            detected_at=timezone.now() - timedelta(hours=1),
        )
    SeniorDetectionFactory(username="Jane Roe", title="Chief Revenue Officer", level="csuite")
    services.digest_build_weekly()
    report_services.report_generate_month(month=Month.of(timezone.now()))


def right_edges(browser) -> dict:
    """How far the list reaches: its table's and its last column's right edges, against the window's
    width and the scrolling box around the table."""
    return browser.execute_script(
        "const table = document.getElementById('result_list');"
        "const last = table.querySelector('thead th:last-child');"
        "const box = table.closest('.results');"
        "return {table: table.getBoundingClientRect().right, last: last.getBoundingClientRect().right,"
        " viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,"
        " scrolls: box.scrollWidth > box.clientWidth + 1};"
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "path, name",
    [
        ("/admin/digests/digest/", "digests"),
        ("/admin/digests/digestdelivery/", "deliveries"),
        ("/admin/digests/audience/", "audiences"),
        ("/admin/access/auditentry/", "audit-entries"),
        ("/admin/reports/report/", "reports"),
    ],
)
def test_each_list_fits_the_window(sent, screen, browser, admin_user, path, name, width):
    DigestDelivery.objects.update(status="dead")
    services.deliveries_resend(
        user=admin_user, via="admin", delivery_ids=list(DigestDelivery.objects.values_list("pk", flat=True))
    )

    screen(path, f"list-{name}", width=width)

    edges = right_edges(browser)
    assert edges["last"] <= edges["viewport"] and edges["page"] <= edges["viewport"], edges
    assert not edges["scrolls"], edges  # its last column is not hidden behind a scroll bar either


@pytest.mark.parametrize("width", WIDTHS)
def test_the_teams_preview_shows_the_card_as_teams_would(sent, screen, browser, width):
    teams = DigestDelivery.objects.filter(channel="teams").first()

    screen(f"/admin/digests/digestdelivery/{teams.pk}/preview/", "preview-teams", width=width)

    card = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#teams-card .ac-adaptiveCard"))
    )
    assert "Jane Roe" in card.text and "Chief Revenue Officer" in card.text
    assert not card.find_elements(By.TAG_NAME, "pre")
    json_toggle = browser.find_element(By.CSS_SELECTOR, "details.card-json")
    assert json_toggle.get_attribute("open") is None  # the JSON is behind its toggle
    screen.save(f"preview-teams-rendered-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_preview_shows_the_whole_message(sent, screen, browser, width):
    email = DigestDelivery.objects.filter(channel="email").first()

    screen(f"/admin/digests/digestdelivery/{email.pk}/preview/", "preview-email", width=width)

    sizes = browser.execute_script(
        "const frame = document.querySelector('iframe.email-preview');"
        "return {frame: frame.getBoundingClientRect().height,"
        " content: frame.contentDocument.documentElement.scrollHeight};"
    )
    assert sizes["frame"] >= sizes["content"] > 0, sizes


@pytest.mark.parametrize("width", WIDTHS)
def test_the_audience_preview_names_who_would_be_left_out_and_why(sent, screen, browser, width):
    audience = Audience.objects.get(name__startswith="EMEA and APAC")
    SeniorDetectionFactory(username="Omar Haddad", title="Chief Operating Officer", level="csuite")
    DetectionFactory(username="Gone Person", title="VP Finance", level="vp")  # no longer senior: no member row

    text = screen(f"/admin/digests/audience/{audience.pk}/preview/", "preview-audience", width=width)

    assert "Omar Haddad" in text and "1 detection would be left out" in text
    assert "Gone Person (VP Finance): the member is no longer senior" in text
    frame = browser.execute_script(
        "const frame = document.querySelector('iframe.email-preview');"
        "return [frame.getBoundingClientRect().height, frame.contentDocument.documentElement.scrollHeight];"
    )
    assert frame[0] >= frame[1] and frame[0] < 900, frame  # the whole email, and no blank page below it


@pytest.mark.parametrize("width", WIDTHS)
def test_an_audit_entrys_links_open_the_objects_it_names(sent, screen, browser, admin_user, width):
    teams = DigestDelivery.objects.get(channel="teams", digest__audience__name="Everyone")
    DigestDelivery.objects.filter(pk=teams.pk).update(status="dead")
    services.deliveries_resend(user=admin_user, via="admin", delivery_ids=[teams.pk])
    from access.models import AuditEntry

    entry = AuditEntry.objects.get(action="delivery.resend")

    text = screen(f"/admin/access/auditentry/{entry.pk}/change/", "audit-entry", width=width)

    assert '"deliveries"' in text or "deliveries" in text
    browser.find_element(By.LINK_TEXT, str(teams.pk)).click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains(f"/digestdelivery/{teams.pk}/change/"))
    assert str(teams) in browser.find_element(By.ID, "content").text


@pytest.mark.parametrize("width", WIDTHS)
def test_a_digest_leads_to_its_detections_and_a_delivery_back_to_its_digest(sent, screen, browser, width):
    digest = Digest.objects.get(audience__name="Everyone")
    teams = digest.deliveries.get(channel="teams")

    screen(f"/admin/digests/digestdelivery/{teams.pk}/preview/", "preview-breadcrumbs", width=width)
    browser.find_element(By.CSS_SELECTOR, ".breadcrumbs").find_element(By.LINK_TEXT, str(digest)).click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains(f"/digest/{digest.pk}/change/"))
    browser.find_element(By.PARTIAL_LINK_TEXT, "5 detections, listed").click()

    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "result_list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    listed = browser.find_element(By.ID, "result_list").text
    assert len(rows) == 5 and "Jane Roe" in listed and "Member 3" in listed
    screen.save(f"digest-detections-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_countries_and_companies_are_found_by_typing_and_chosen_with_enter(screen, browser, width):
    audience = AudienceFactory(name="DACH")
    SeniorDetectionFactory(company="Initech Global Holdings")  # a company the suggestions know

    screen(f"/admin/digests/audience/{audience.pk}/change/", "audience-countries", width=width)
    for name in ["Germany", "Austria"]:
        chosen = select2_choose(browser, "countries", name)
    assert chosen == ["Austria", "Germany"]  # in the list's order
    select2_choose(browser, "companies", "Initech", suggested="Initech Global Holdings")
    typed = select2_choose(browser, "companies", "acme.com")  # typed, not known
    assert typed == ["Initech Global Holdings", "acme.com"]
    screen.save(f"audience-countries-chosen-{width}")

    assert "Remove the Teams webhook" not in browser.find_element(By.ID, "content").text  # it has none
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    audience.refresh_from_db()
    assert [str(code) for code in audience.countries] == ["AT", "DE"]
    assert audience.companies == ["Initech Global Holdings", "acme.com"]
