"""What an operator opens after the week's work, in headless Chromium: a digest delivery's
preview and this month's report. Set SCREENSHOT_DIR to keep the screenshots."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from digests.models import DigestDelivery
from reports import services as report_services
from reports.months import Month
from tests.factories import CommunityGrantFactory, DetectionFactory, FailedBadgeGrantFactory, SeniorDetectionFactory
from tests.fixtures.browser import admin_login, select2_choose

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_operator_confirms_an_extra_digest_then_previews_it(screen, browser, settings):
    settings.DIGEST_EMAIL_TO = ["exec-team@example.com"]
    SeniorDetectionFactory(user_id="7", username="Jane Roe", title="VP Sales", company="Acme")
    SeniorDetectionFactory(username="Raj Patel", title="VP of Sales", level="vp", country="India")
    SeniorDetectionFactory(
        user_id="7",
        username="Jane Roe",
        title="Chief Revenue Officer",
        level="csuite",
        kind="promotion",
        company="Acme",
    )

    asked = screen("/admin/digests/digest/send/", "digest-send-confirm")
    assert "an extra digest now: 3 detections" in asked and "Everyone: 2 members" in asked
    assert "exec-team@example.com" in asked and "Jane Roe" in asked and "Friday's digests are not replaced" in asked
    assert not DigestDelivery.objects.exists()  # looking sends nothing
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value^='Yes, send']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "Extra digest" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    email = DigestDelivery.objects.get(channel="email")

    text = screen(f"/admin/digests/digestdelivery/{email.pk}/preview/", "digest-preview")

    assert "exec-team@example.com" in text and "Senior executives detected" in text
    assert "Jane Roe: Chief Revenue Officer (VP → C-suite)" in text and "VP Sales" not in text


def test_this_months_report_opens_and_says_it_is_partial(screen):
    DetectionFactory(username="Jane Roe", title="CEO", level="csuite")
    report = report_services.report_generate_month(month=Month.of(timezone.now()))

    # The report is a page of its own, not the admin's: no #content to wait for.
    text = screen(f"/admin/reports/report/{report.pk}/download/html/", "report-partial", ready="#partial")

    assert "Partial:" in text and "before the month ended" in text and "Jane Roe" in text


def test_an_operators_send_shows_in_the_audit_trail(browser, live_server, django_user_model, screenshots):
    from django.contrib.auth.models import Group

    from tests.fixtures.browser import ADMIN_USER_PASSWORD

    operator = django_user_model.objects.create_user("dana", password=ADMIN_USER_PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="Operators"))
    SeniorDetectionFactory(username="Jane Roe", title="CEO", level="csuite")
    admin_login(browser, live_server, operator, next_path="/admin/digests/digest/send/")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value^='Yes, send']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))

    browser.get(f"{live_server.url}/admin/access/auditentry/")
    browser.save_screenshot(str(screenshots / "admin-audit.png"))
    rows = browser.find_element(By.ID, "result_list").text

    assert "dana" in rows and "digest.send_extra" in rows and "Extra digest #" in rows


def test_repeated_failed_logins_show_the_lockout_page(browser, live_server, django_user_model, screenshots):
    django_user_model.objects.create_user("eve", password="Right-Password-42", is_staff=True)
    browser.delete_all_cookies()
    for attempt in range(5):
        browser.get(f"{live_server.url}/admin/login/")
        browser.find_element(By.NAME, "username").send_keys("eve")
        browser.find_element(By.NAME, "password").send_keys(f"wrong-{attempt}")
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "content")))

    browser.save_screenshot(str(screenshots / "admin-locked-out.png"))

    assert "Too many failed logins" in browser.find_element(By.TAG_NAME, "body").text


def test_an_operator_adds_an_audience_previews_it_and_deletes_it_with_its_deliveries(screen, browser):
    from digests import services
    from digests.models import Audience

    SeniorDetectionFactory(username="Lena Vogel", title="Chief Executive Officer", level="csuite", country="Germany")
    SeniorDetectionFactory(username="Amy Chen", title="VP Marketing", country="United States")

    screen("/admin/digests/audience/add/", "audience-add")
    browser.find_element(By.NAME, "name").send_keys("EMEA leadership")
    browser.find_element(By.CSS_SELECTOR, "input[name=levels][value=csuite]").click()
    for country in ("Germany", "United Kingdom", "France"):  # typed, as an operator finds them among 250
        select2_choose(browser, "countries", country)
    browser.find_element(By.NAME, "email_to").send_keys("emea-leads@example.com\nceo-office@example.com")
    # The form starts the audience now, to the second: a detection made earlier in that second or
    # before is not new to it. A week back, it hears of this week's.
    starts = browser.find_element(By.NAME, "starts_at_0")
    starts.clear()
    starts.send_keys(f"{timezone.localdate() - timedelta(days=7):%Y-%m-%d}")
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    audience = Audience.objects.get(name="EMEA leadership")
    assert [str(code) for code in audience.countries] == ["DE", "FR", "GB"]  # stored sorted

    listed = screen("/admin/digests/audience/", "audiences")
    assert "EMEA leadership" in listed and "C-suite · DE, FR, GB" in listed

    preview = screen(f"/admin/digests/audience/{audience.pk}/preview/", "audience-preview")
    assert "matches 1 current senior member" in preview and "Lena Vogel" in preview and "Amy Chen" not in preview
    assert "Senior executives detected:" in preview and "EMEA leadership" in preview

    services.digest_build_extra(audience_ids=[audience.pk])
    asked = screen(f"/admin/digests/audience/{audience.pk}/delete/", "audience-delete")
    assert "1 delivery of this audience is in flight" in asked and "archived rather than removed" in asked
    assert "will be deleted" not in asked
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "1 deliveries cancelled" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert DigestDelivery.objects.get(digest__audience=audience).status == "cancelled"


def test_an_operator_sees_what_a_ruleset_would_change_and_accepts_a_broken_label(screen, browser):
    from classification import services as classification_services
    from classification.models import ConfirmedLabel, StoredRuleset

    vp = ConfirmedLabel.objects.create(title="VP of Sales", level="vp", note="a customer's VP")
    ConfirmedLabel.objects.create(title="CEO", level="csuite")
    content = 'version: "ceo-only"\nroles:\n  - id: csuite.ceo\n    level: csuite\n    pattern: ceo\n'
    stored = classification_services.ruleset_store(content=content, change_note="only the CEO")

    page = screen(f"/admin/classification/storedruleset/{stored.pk}/activate/", "ruleset-activate")

    assert "Confirmed labels: 1 of 2 right, 1 wrong" in page and "It gets 1 confirmed label wrong" in page
    assert "Every labelled title whose level would change" in page
    browser.find_element(By.ID, f"accept-{vp.pk}").click()
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value^='Activate']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    try:
        assert "Ruleset ceo-only is active." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
        assert StoredRuleset.objects.get(pk=stored.pk).is_active
    finally:
        StoredRuleset.objects.update(is_active=False)
        classification_services.ruleset_reload(force=True)


def test_an_operator_corrects_a_member_from_the_digest_link(screen, browser):
    from detections.models import Detection, MemberPin

    SeniorDetectionFactory(user_id="77", username="Sam Partner", title="VP of Partnerships", company="Initech")
    detection = Detection.objects.get(user_id="77")

    page = screen(f"/admin/detections/detection/{detection.pk}/correct/", "member-correct")

    assert "Sam Partner" in page and "VP of Partnerships" in page and "This member is" in page
    browser.find_element(By.CSS_SELECTOR, "input[name=level][value=none]").click()
    browser.find_element(By.NAME, "note").send_keys("A partner, not a customer")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Apply the correction']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "corrected to Not a senior executive (removed)" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert MemberPin.objects.get(pk="77").note == "A partner, not a customer"


def test_an_operator_finds_a_failed_community_change_and_retries_it(screen, browser):
    CommunityGrantFactory(user_id="81")
    failed = FailedBadgeGrantFactory(user_id="81")

    page = screen("/admin/detections/communitygrant/", "community-writeback")

    assert "give badge 99" in page and "Failed: needs an operator" in page and "COMMUNITY_WRITEBACK_BADGE_ID" in page
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{failed.pk}']").click()
    browser.find_element(By.CSS_SELECTOR, "select[name=action] option[value=retry]").click()
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "1 failed changes queued again." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    failed.refresh_from_db()
    assert failed.status == "pending"


def test_an_operator_filters_an_audience_by_function_edits_it_and_previews_it(screen, browser):
    from datetime import timedelta

    from digests.models import Audience

    SeniorDetectionFactory(username="Fay Lin", title="Chief Financial Officer", level="csuite", function="finance")
    SeniorDetectionFactory(username="Ted Okafor", title="CTO", level="csuite", function="engineering", company="Acme")
    SeniorDetectionFactory(username="Ivy Novak", title="VP, IT Security", function="it_security", country="Poland")
    SeniorDetectionFactory(username="Sal Diaz", title="VP of Sales", function="sales")
    SeniorDetectionFactory(username="Kenji Sato", title="代表取締役社長", level="csuite", function="general")

    screen("/admin/digests/audience/add/", "audience-function-add")
    browser.find_element(By.NAME, "name").send_keys("Finance and technology leaders")
    for function in ("finance", "engineering"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=functions][value={function}]").click()
    browser.find_element(By.NAME, "email_to").send_keys("cfo-cto-office@example.com")
    starts = browser.find_element(By.NAME, "starts_at_0")  # a week back: it hears of this week's detections
    starts.clear()
    starts.send_keys(f"{timezone.localdate() - timedelta(days=7):%Y-%m-%d}")
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    audience = Audience.objects.get(name="Finance and technology leaders")
    assert audience.functions == ["finance", "engineering"]

    form = screen(f"/admin/digests/audience/{audience.pk}/change/", "audience-function-change")
    assert "Functions" in form and "People (HR)" in form and "none ticked: every function" in form
    browser.find_element(By.CSS_SELECTOR, "input[name=functions][value=it_security]").click()
    browser.execute_script("document.querySelector('input[name=functions]').scrollIntoView({block: 'center'})")
    screen.save("audience-function-form")
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    audience.refresh_from_db()
    assert audience.functions == ["finance", "engineering", "it_security"]
    listed = screen("/admin/digests/audience/", "audiences-by-function")
    assert "Finance/Engineering and technology/IT and security" in listed

    preview = screen(f"/admin/digests/audience/{audience.pk}/preview/", "audience-function-preview")

    assert "matches 3 current senior members" in preview
    assert "Functions Finance, Engineering and technology, IT and security" in preview
    rows = browser.find_element(By.CSS_SELECTOR, "table.plan-rows tbody").text
    assert "Fay Lin Chief Financial Officer C-suite Finance" in rows
    assert "Ted Okafor CTO C-suite Engineering and technology Acme" in rows
    assert "Ivy Novak VP, IT Security VP IT and security" in rows
    assert "Sal Diaz" not in rows and "Kenji Sato" not in rows


def test_an_operator_adds_a_senior_executive_the_rules_missed(screen, browser):
    from django.urls import reverse

    from detections.models import Detection, MemberPin, SeniorMember

    members = screen("/admin/detections/seniormember/", "members-before-mark")
    assert "ADD A SENIOR EXECUTIVE THE RULES MISSED" in members.upper()
    browser.find_element(By.CSS_SELECTOR, f"a[href='{reverse('admin:detections_member_mark_senior')}']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.NAME, "user_id")))
    assert "The community API is not configured: give their title" in browser.page_source
    browser.find_element(By.NAME, "user_id").send_keys("9001")
    browser.find_element(By.CSS_SELECTOR, "input[name=level][value=vp]").click()
    browser.find_element(By.CSS_SELECTOR, "select[name=function] option[value=finance]").click()
    browser.find_element(By.NAME, "title").send_keys("Head of Group Treasury (VP-equivalent band)")
    browser.find_element(By.NAME, "username").send_keys("Mia Berg")
    browser.find_element(By.NAME, "note").send_keys("Treasury heads are VP band here")
    screen.save("member-mark-senior")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Add the senior executive']").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))

    message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "Mia Berg is now a senior executive: VP, Finance" in message
    member = SeniorMember.objects.get(pk="9001")
    assert (member.level, member.function, member.rules_version) == ("vp", "finance", "correction")
    assert Detection.objects.get(user_id="9001").function == "finance"
    assert MemberPin.objects.get(pk="9001").function == "finance"
    listed = screen("/admin/detections/seniormember/?function__exact=finance", "members-by-function")
    assert "Mia Berg" in listed and "Finance" in listed
