"""An operator picks the account of an ambiguous hand-off in a real browser (headless Chromium),
and the Task is made. Set SCREENSHOT_DIR to keep the screenshots."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from crm.models import Handoff
from crm.services import handoffs
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def executive(user_id, username, company, email_domain=""):
    SeniorMemberFactory(user_id=user_id, username=username, level="csuite", company=company, email_domain=email_domain)
    return DetectionFactory(user_id=user_id, username=username, title="Chief Executive Officer", level="csuite",
                            company=company)  # fmt: skip


@pytest.mark.parametrize("width", [1280, 1920])
def test_an_operator_picks_the_account_and_the_task_is_created(salesforce, settings, screen, browser, width):
    settings.CRM_HANDOFF_ENABLED = True
    settings.CRM_TASKS_PER_SECOND = 50
    settings.COMMUNITY_API_URL = ""
    salesforce.account_add("Acme", website="acme.com")
    salesforce.account_add("Initech", website="initech.com")
    salesforce.reject_when(lambda f: "Initech" in f.get("Description", ""), "Initech tasks are closed", ["WhatId"])
    salesforce.account_add("Globex Inc", website="globex.com")
    globex_uk = salesforce.account_add("Globex Ltd", website="globex.co.uk")
    executive("1", "Jane Roe", "Acme", "acme.com")
    executive("2", "Bill Lumbergh", "Initech", "initech.com")
    executive("3", "Hank Scorpio", "Globex")
    handoffs.handoffs_find()
    handoffs.handoffs_run_due(budget_seconds=None)

    listed = screen("/admin/crm/handoff/", "crm-handoffs", width=width)
    assert "Task created" in listed and "Failed: needs an operator" in listed and "Ambiguous account" in listed
    edges = browser.execute_script(
        "const t = document.getElementById('result_list'); const box = t.closest('.results');"
        "return [t.querySelector('thead th:last-child').getBoundingClientRect().right,"
        " document.documentElement.clientWidth, box.scrollWidth - box.clientWidth];"
    )
    assert edges[0] <= edges[1] and edges[2] <= 1, edges  # nothing past the window's edge nor behind a scroll

    browser.find_element(By.LINK_TEXT, "Pick the account…").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains("/pick/"))
    screen.save(f"crm-pick-{width}")
    browser.find_element(By.CSS_SELECTOR, f"input[type=radio][value='{globex_uk}']").click()
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "Globex Ltd picked" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text

    handoffs.handoffs_run_due(budget_seconds=None)  # the wake-up's work, here rather than on a worker

    hank = Handoff.objects.get(detection__username="Hank Scorpio")
    assert hank.status == "created" and [t["WhatId"] for t in salesforce.tasks].count(globex_uk) == 1
    screen("/admin/crm/handoff/", "crm-handoffs-after-pick", width=width)
